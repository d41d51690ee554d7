"""Slide-level classification metrics: AUC, balanced accuracy, weighted F1 (GPFM's three).

AUC is one-vs-rest macro for more than two classes and the positive-class AUC
for two; balanced accuracy is the macro mean of per-class recall (eva's macro
``MulticlassAccuracy``); weighted F1 weights each class's F1 by its support.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score


def softmax(logits: np.ndarray) -> np.ndarray:
    """(N, C) logits -> (N, C) probabilities."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def auc(y_true: np.ndarray, prob: np.ndarray) -> float:
    """(N,) labels, (N, C) probabilities -> AUC; NaN when only one class is present."""
    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) < 2:
        return float("nan")
    if prob.shape[1] == 2:
        return float(roc_auc_score(y_true, prob[:, 1]))
    present = np.unique(y_true)
    if len(present) < prob.shape[1]:
        # roc_auc_score's multi-class mode needs every class in y_true: score the present ones.
        p = prob[:, present] / prob[:, present].sum(axis=1, keepdims=True)
        y = np.searchsorted(present, y_true)
        return float(roc_auc_score(y, p[:, 1]) if len(present) == 2 else
                     roc_auc_score(y, p, multi_class="ovr", average="macro"))
    return float(roc_auc_score(y_true, prob, multi_class="ovr", average="macro"))


def slide_classification_metrics(y_true: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """(N,) int labels and (N, C) logits -> auc, balanced_accuracy, weighted_f1, accuracy."""
    y_true = np.asarray(y_true)
    prob = softmax(np.asarray(logits, dtype=float))
    y_pred = prob.argmax(axis=1)
    return {
        "auc": auc(y_true, prob),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "accuracy": float(np.mean(y_pred == y_true)),
    }
