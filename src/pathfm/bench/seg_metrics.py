"""Dice per class without background, accumulated over every evaluated patch.

Dice_c = 2 TP_c / (2 TP_c + FP_c + FN_c), counts summed over all sliding-window
patches of the test set (a micro Dice per class); a class absent from both
truth and prediction has no Dice (NaN) and is left out of the mean.
"""

from __future__ import annotations

import numpy as np


class DiceAccumulator:
    """Add (H, W) int predictions and truths batch by batch; read per-class and mean Dice."""

    def __init__(self, num_classes: int, background: int = 0):
        self.num_classes, self.background = num_classes, background
        self.tp = np.zeros(num_classes, np.int64)
        self.fp = np.zeros(num_classes, np.int64)
        self.fn = np.zeros(num_classes, np.int64)

    def update(self, pred: np.ndarray, truth: np.ndarray) -> None:
        pred, truth = np.asarray(pred).ravel(), np.asarray(truth).ravel()
        cm = np.bincount(truth * self.num_classes + pred,
                         minlength=self.num_classes ** 2).reshape(self.num_classes, self.num_classes)
        tp = np.diag(cm)
        self.tp += tp
        self.fp += cm.sum(axis=0) - tp
        self.fn += cm.sum(axis=1) - tp

    def per_class(self) -> dict[int, float]:
        out = {}
        for c in range(self.num_classes):
            if c == self.background:
                continue
            denom = 2 * self.tp[c] + self.fp[c] + self.fn[c]
            out[c] = float(2 * self.tp[c] / denom) if denom else float("nan")
        return out

    def mean(self) -> float:
        vals = [v for v in self.per_class().values() if np.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")


def dice_scores(pred: np.ndarray, truth: np.ndarray, num_classes: int,
                class_names: list[str] | None = None) -> dict[str, float]:
    """Dice of one prediction set -> {dice_<class>: …, dice_mean: …}."""
    acc = DiceAccumulator(num_classes)
    acc.update(pred, truth)
    names = class_names or [str(c) for c in range(num_classes)]
    out = {f"dice_{names[c]}": v for c, v in acc.per_class().items()}
    out["dice_mean"] = acc.mean()
    return out
