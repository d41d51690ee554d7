"""Slide classification with gated-attention ABMIL on tile embeddings: eva and GPFM protocols.

- ``eva``: eva's fixed train/val/test splits (a stratified patient-grouped split
  is drawn when a task has none), AdamW lr 1e-3, up to 100 epochs, patience 20,
  batch 32, tiles sampled per slide (Camelyon16 10,000 at 0.25 mpp, PANDA 1,000
  at 0.5 mpp), repeated runs with a recorded seed each; balanced accuracy on test.
- ``gpfm``: patient-grouped stratified k-fold (5), a validation hold-out of each
  training fold for early stopping; AUC, balanced accuracy and weighted F1 on
  each test fold; one run per fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from pathfm.bench.abmil import ABMIL
from pathfm.bench.mil_train import MILTrainSettings, fit_mil, predict, subsample_bag
from pathfm.bench.slide_metrics import slide_classification_metrics
from pathfm.bench.splits import grouped_holdout, grouped_kfold, named_splits


@dataclass
class SlideProtocol:
    """A named, versioned slide-classification protocol."""

    name: str
    version: str
    n_folds: int | None          # None: fixed splits with repeated seeded runs
    val_fraction: float
    monitor: str                 # validation metric for early stopping
    train: MILTrainSettings = field(default_factory=MILTrainSettings)

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "n_folds": self.n_folds,
                "val_fraction": self.val_fraction, "monitor": self.monitor,
                "train": self.train.to_dict()}


PROTOCOLS: dict[str, SlideProtocol] = {
    "eva": SlideProtocol("eva", "eva-0.1-abmil", None, 0.2, "balanced_accuracy",
                         MILTrainSettings(lr=1e-3, max_epochs=100, patience=20, batch_size=32)),
    "gpfm": SlideProtocol("gpfm", "gpfm-4f8be2b-abmil", 5, 0.2, "balanced_accuracy",
                          MILTrainSettings(lr=1e-3, max_epochs=100, patience=20, batch_size=32)),
}


def get_protocol(name: str, **train_overrides) -> SlideProtocol:
    """Protocol by name, with training settings overridden (e.g. ``max_tiles`` per task)."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown slide protocol {name!r}; choose from {sorted(PROTOCOLS)}")
    p = PROTOCOLS[name]
    return replace(p, train=replace(p.train, **train_overrides)) if train_overrides else p


def _score(monitor: str):
    def score(outputs: np.ndarray, y: np.ndarray) -> float:
        return slide_classification_metrics(y, outputs)[monitor]
    return score


def train_and_test(bags: list[np.ndarray], labels: np.ndarray, tr: np.ndarray, va: np.ndarray,
                   te: np.ndarray, n_classes: int, protocol: SlideProtocol, seed: int) -> dict:
    """One seeded ABMIL fit on ``tr`` (early stopping on ``va``) -> test metrics + fit info."""
    s = protocol.train
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sampled = [torch.from_numpy(np.ascontiguousarray(subsample_bag(b, s.max_tiles, rng),
                                                     dtype=np.float32)) for b in bags]
    model = ABMIL(bags[0].shape[1], n_classes, s.projected_input_size, s.hidden_size_attention,
                  s.hidden_sizes_mlp, dropout_mlp=s.dropout)
    y = torch.as_tensor(labels, dtype=torch.long)
    ce = nn.CrossEntropyLoss()
    fit = fit_mil(model, [sampled[i] for i in tr], y[tr], [sampled[i] for i in va], labels[va],
                  lambda out, t: ce(out, t), _score(protocol.monitor), s, seed)
    metrics = slide_classification_metrics(labels[te], predict(model, [sampled[i] for i in te],
                                                               s.batch_size))
    return {"metrics": metrics, "best_epoch": fit["best_epoch"], "epochs": fit["epochs"],
            "n_train": len(tr), "n_val": len(va), "n_test": len(te)}


def run_slide_classification(bags: list[np.ndarray], labels: np.ndarray, groups: np.ndarray,
                             protocol: SlideProtocol, seeds: list[int],
                             split: np.ndarray | None = None) -> dict:
    """Bags (N_i, D) per slide, int labels, patient groups -> {runs, seeds, details}.

    eva: one run per seed on fixed splits (``split`` column, or a seeded grouped
    split when absent). gpfm: one run per fold of a k-fold split drawn with
    ``seeds[0]``; fold f trains with seed ``seeds[0] + f``.
    """
    labels = np.asarray(labels, dtype=int)
    groups = np.asarray(groups)
    n_classes = int(labels.max()) + 1
    runs, details, used_seeds = [], [], []
    if protocol.n_folds is None:
        for seed in seeds:
            if split is not None:
                tr, va, te = named_splits(split)
            else:
                rest, te = grouped_holdout(np.arange(len(labels)), labels, groups, 0.25, seed)
                tr, va = grouped_holdout(rest, labels, groups, protocol.val_fraction, seed)
            out = train_and_test(bags, labels, tr, va, te, n_classes, protocol, seed)
            runs.append(out.pop("metrics"))
            details.append(out)
            used_seeds.append(seed)
    else:
        folds = grouped_kfold(labels, groups, protocol.n_folds, seeds[0])
        for f, (rest, te) in enumerate(folds):
            seed = seeds[0] + f
            tr, va = grouped_holdout(rest, labels, groups, protocol.val_fraction, seed)
            out = train_and_test(bags, labels, tr, va, te, n_classes, protocol, seed)
            runs.append(out.pop("metrics"))
            details.append({"fold": f, **out})
            used_seeds.append(seed)
    return {"runs": runs, "seeds": used_seeds, "details": details, "n_classes": n_classes}
