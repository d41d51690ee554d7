"""Classification metrics of eva's linear probing, one implementation each.

balanced accuracy = macro mean of per-class recall over the classes present in
``y_true`` (eva's macro ``MulticlassAccuracy``; scikit-learn's
``balanced_accuracy_score``); for two classes it is eva's binary balanced accuracy.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class."""
    return np.bincount(n_classes * np.asarray(y_true) + np.asarray(y_pred),
                       minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    n = int(max(np.max(y_true), np.max(y_pred))) + 1
    cm = confusion(y_true, y_pred, n)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def classification_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """(N,) int labels and (N, C) logits -> balanced accuracy, accuracy, macro F1, AUROC."""
    y_pred = scores.argmax(axis=1)
    out = {"balanced_accuracy": balanced_accuracy(y_true, y_pred),
           "accuracy": float(np.mean(y_pred == y_true)),
           "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}
    classes = np.unique(y_true)
    if len(classes) > 1:
        prob = np.exp(scores - scores.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        if scores.shape[1] == 2:
            out["auroc"] = float(roc_auc_score(y_true, prob[:, 1]))
        elif len(classes) == scores.shape[1]:
            out["auroc"] = float(roc_auc_score(y_true, prob, multi_class="ovr", average="macro"))
    return out
