"""The kaiko.ai TP53 task: patch-level linear probing of a patient-level label.

Patches are drawn uniformly over slides (the patch set's job); here they are
split into ``n_folds`` patient-grouped, label-stratified folds. Fold k is the
test set, fold k+1 the validation set (early stopping), the rest trains; one
linear probe per fold with its own seed; balanced accuracy on the test fold.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from pathfm.bench.linear_probe import ProbeProtocol, linear_probe


def patient_folds(labels: np.ndarray, patients: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """(N,) fold index per patch; a patient's patches share one fold."""
    fold = np.empty(len(labels), dtype=np.int64)
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(cv.split(np.zeros(len(labels)), labels, patients)):
        fold[test] = k
    return fold


def tp53_benchmark(features: np.ndarray, labels: np.ndarray, patients: np.ndarray, protocol: ProbeProtocol,
                   n_folds: int = 5, seed: int = 0) -> dict:
    """Patient-grouped CV; returns {settings, seeds, runs: {metric: [per fold]}, folds}."""
    fold = patient_folds(labels, patients, n_folds, seed)
    one_run = protocol.with_overrides({"n_runs": 1})
    runs: dict[str, list[float]] = {}
    seeds, settings = [], None
    for k in range(n_folds):
        split = np.where(fold == k, "test", np.where(fold == (k + 1) % n_folds, "val", "train"))
        res = linear_probe(features, labels, split, one_run, task="tp53", seed=seed + k,
                           n_classes=int(labels.max()) + 1)
        settings = res["settings"]
        seeds += res["seeds"]
        for name, v in res["runs"].items():
            runs.setdefault(name, []).extend(v)
    return {"settings": {**settings, "n_folds": n_folds, "fold_seed": seed}, "seeds": seeds, "runs": runs,
            "patients_per_fold": [int(len(np.unique(patients[fold == k]))) for k in range(n_folds)]}
