"""Patient-grouped, label-stratified splits for bag-level benchmarks.

Slides of one patient never sit on both sides of a split: folds and validation
hold-outs are drawn over groups (patients), stratified by the label (or by the
event indicator for survival) so every fold sees every class where possible.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold


def grouped_kfold(labels: np.ndarray, groups: np.ndarray, k: int, seed: int
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """-> k (train_idx, test_idx) pairs over slides; groups never straddle a pair."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise ValueError(f"{k}-fold splitting needs at least {k} patients, got {n_groups}")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in cv.split(np.zeros(len(labels)), labels, groups)]


def grouped_holdout(idx: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split slide indices ``idx`` into (train, validation) with ≈ ``fraction`` of patients held out."""
    idx = np.asarray(idx)
    k = max(2, int(round(1.0 / fraction)))
    sub_groups = np.asarray(groups)[idx]
    if len(np.unique(sub_groups)) < k:
        raise ValueError(f"too few patients ({len(np.unique(sub_groups))}) for a validation "
                         f"hold-out of {fraction:.0%}")
    tr, va = grouped_kfold(np.asarray(labels)[idx], sub_groups, k, seed)[0]
    return idx[tr], idx[va]


def named_splits(split: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Official 'train' / 'val' / 'test' column -> three index arrays (eva's fixed splits)."""
    split = np.asarray(split).astype(str)
    out = tuple(np.flatnonzero(split == s) for s in ("train", "val", "test"))
    empty = [s for s, i in zip(("train", "val", "test"), out) if len(i) == 0]
    if empty:
        raise ValueError(f"split column has no {', '.join(empty)} slides")
    return out
