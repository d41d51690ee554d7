"""eva-style linear probing on frozen embeddings, in two named protocol versions.

- ``kaiko2024`` (the kaiko.ai paper, eva 0.0.x): SGD, momentum 0.9, Nesterov, no
  weight decay, lr 0.01 at batch 4,096 scaled linearly (batch 256 for sets smaller
  than one 4,096 batch), cosine annealing to 0 over ``max_steps`` stepped every
  step, early stopping on validation balanced accuracy.
- ``kaiko2024_epoch_cosine``: the same, but the cosine is stepped once per epoch,
  which is what eva 0.0.x actually did (its scheduler had no interval; docs/protocols.md).
- ``eva`` (eva ≥ 0.2): AdamW lr 3e-4 (weight decay 0.01, torch's default), batch
  256, the head's default ConstantLR(1/3 for 5 epochs), per-task patience.

A run trains a linear head on the train split, validates once per epoch, keeps
the best head on validation and scores it on validation and test (test = the
validation split for sets without one, as eva does). Every run has its seed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from pathfm.bench.early_stopping import EarlyStopping
from pathfm.bench.metrics import balanced_accuracy, classification_metrics

# eva ≥ 0.2 early-stopping patience (validation checks = epochs here) per task.
EVA_PATIENCE = {"crc": 7, "bach": 1250, "mhist": 278, "pcam": 3}


@dataclass(frozen=True)
class ProbeProtocol:
    name: str
    optimizer: str  # sgd | adamw
    lr: float  # at ref_batch
    ref_batch: int | None  # lr scaled by batch / ref_batch; None = not scaled
    batch_size: int  # the batch of large sets
    small_batch: int | None  # batch of sets with fewer than batch_size training samples
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    scheduler: str = "cosine"  # cosine | constant_warmup (eva head default: ×1/3 for 5 epochs)
    scheduler_interval: str = "step"  # step | epoch
    max_steps: int = 12_500
    n_runs: int = 5
    patience: dict = field(default_factory=lambda: dict(EVA_PATIENCE))
    default_patience: int = 50

    def with_overrides(self, overrides: dict | None) -> ProbeProtocol:
        """A copy with config overrides (e.g. the demo's fewer steps); unknown keys are errors."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)} - {"name"}
        if unknown:
            raise KeyError(f"unknown linear-probe protocol settings {sorted(unknown)}")
        return dataclasses.replace(self, **overrides)

    def resolve(self, n_train: int, task: str) -> dict:
        """The settings one task actually runs with (recorded in the result)."""
        batch = self.batch_size
        if self.small_batch is not None and n_train < self.batch_size:
            batch = self.small_batch
        lr = self.lr * batch / self.ref_batch if self.ref_batch else self.lr
        return {**dataclasses.asdict(self), "batch": batch, "lr_resolved": lr,
                "patience_resolved": self.patience.get(task, self.default_patience)}


PROTOCOLS = {
    "kaiko2024": ProbeProtocol("kaiko2024", "sgd", 0.01, 4096, 4096, 256, momentum=0.9, nesterov=True),
    "kaiko2024_epoch_cosine": ProbeProtocol("kaiko2024_epoch_cosine", "sgd", 0.01, 4096, 4096, 256,
                                            momentum=0.9, nesterov=True, scheduler_interval="epoch"),
    "eva": ProbeProtocol("eva", "adamw", 3e-4, None, 256, None, weight_decay=0.01,
                         scheduler="constant_warmup", scheduler_interval="epoch"),
}


def get_protocol(name: str, overrides: dict | None = None) -> ProbeProtocol:
    if name not in PROTOCOLS:
        raise KeyError(f"linear-probe protocol {name!r} is not one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[name].with_overrides(overrides)


def _optimizer(head: nn.Module, s: dict) -> torch.optim.Optimizer:
    if s["optimizer"] == "sgd":
        return torch.optim.SGD(head.parameters(), lr=s["lr_resolved"], momentum=s["momentum"],
                               nesterov=s["nesterov"], weight_decay=s["weight_decay"])
    return torch.optim.AdamW(head.parameters(), lr=s["lr_resolved"], weight_decay=s["weight_decay"])


def _lr_factor(s: dict, step: int, epoch: int) -> float:
    if s["scheduler"] == "constant_warmup":
        return 1.0 / 3.0 if epoch < 5 else 1.0
    # eva 0.0.x: CosineAnnealingLR(T_max = max_steps) counted in epochs when stepped per epoch.
    t, t_max = (step if s["scheduler_interval"] == "step" else epoch), s["max_steps"]
    return 0.5 * (1.0 + math.cos(math.pi * min(t, t_max) / t_max))


def train_probe(x_tr, y_tr, x_va, y_va, n_classes: int, settings: dict, seed: int):
    """Train one linear head; return (best head, best val balanced accuracy, epochs run)."""
    # A D×C head: one thread is fastest and keeps parallel jobs from oversubscribing cores.
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = nn.Linear(x_tr.shape[1], n_classes)
    opt = _optimizer(head, settings)
    base = [grp["lr"] for grp in opt.param_groups]
    loss_fn = nn.CrossEntropyLoss()
    n, batch = len(y_tr), min(settings["batch"], len(y_tr))
    steps_per_epoch = max(1, n // batch)  # drop_last, as eva's train loader
    stopper = EarlyStopping(settings["patience_resolved"], best=-1.0)
    step, epoch = 0, 0
    while step < settings["max_steps"]:
        order = torch.randperm(n, generator=g)
        head.train()
        for b in range(steps_per_epoch):
            if step >= settings["max_steps"]:
                break
            f = _lr_factor(settings, step, epoch)
            for grp, lr in zip(opt.param_groups, base):
                grp["lr"] = lr * f
            idx = order[b * batch:(b + 1) * batch]
            loss = loss_fn(head(x_tr[idx]), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        epoch += 1
        head.eval()
        with torch.no_grad():
            score = balanced_accuracy(y_va.numpy(), head(x_va).argmax(1).numpy())
        if stopper.update(score, epoch,
                          lambda: {k: v.clone() for k, v in head.state_dict().items()}):
            break
    stopper.restore(head)
    return head, stopper.best, epoch


def eva_splits(split: np.ndarray) -> dict[str, np.ndarray]:
    """Index arrays of train / val / test; val falls back to test (MHIST), test to val (BACH, CRC)."""
    idx = {s: np.flatnonzero(split == s) for s in ("train", "val", "test")}
    if not len(idx["train"]):
        raise ValueError("no training samples (split == 'train')")
    if not len(idx["val"]):
        idx["val"] = idx["test"]
    if not len(idx["test"]):
        idx["test"] = idx["val"]
    if not len(idx["val"]):
        raise ValueError("no validation or test samples")
    return idx


def linear_probe(features: np.ndarray, labels: np.ndarray, split: np.ndarray, protocol: ProbeProtocol,
                 task: str, seed: int = 0, n_classes: int | None = None) -> dict:
    """Run ``protocol.n_runs`` probes; return {settings, seeds, metrics: {name: [per run]}}.

    features (N, D) float, labels (N,) int, split (N,) 'train' | 'val' | 'test'.
    Metrics are prefixed ``val_`` / ``test_``; ``balanced_accuracy`` is the test one.
    """
    idx = eva_splits(np.asarray(split).astype(str))
    n_classes = n_classes or int(labels.max()) + 1
    settings = protocol.resolve(len(idx["train"]), task)
    t = {k: torch.from_numpy(np.asarray(features[v], np.float32)) for k, v in idx.items()}
    y = {k: torch.from_numpy(np.asarray(labels[v], np.int64)) for k, v in idx.items()}
    seeds = [seed + r for r in range(protocol.n_runs)]
    runs: dict[str, list[float]] = {}
    for s in seeds:
        head, _, epochs = train_probe(t["train"], y["train"], t["val"], y["val"], n_classes, settings, s)
        with torch.no_grad():
            for part in ("val", "test"):
                for name, v in classification_metrics(y[part].numpy(), head(t[part]).numpy()).items():
                    runs.setdefault(f"{part}_{name}", []).append(v)
        runs.setdefault("epochs", []).append(float(epochs))
    runs["balanced_accuracy"] = list(runs["test_balanced_accuracy"])
    return {"settings": settings, "seeds": seeds, "runs": runs,
            "n": {k: int(len(v)) for k, v in idx.items()}}
