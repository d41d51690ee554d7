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

What eva's trainer does and the protocols follow by default (each a setting, the
old pathfm behaviour one override away; docs/protocols.md):

- ``drop_last``: False. eva's training loader keeps the last incomplete batch, so an
  epoch is ceil(n / batch) steps (BACH's 268 images at batch 256: 2 steps, not 1).
  Warm-up, patience and validation are counted in epochs, so this matters.
- ``binary_logits``: 1. Binary tasks (MHIST, PCam) get one logit trained with
  BCE-with-logits, predicted positive when sigmoid > 0.5; 2 = a softmax pair.
- ``validate_partial_epoch``: False. Lightning validates at epoch ends only, so
  the steps of an epoch cut short by ``max_steps`` are never validated (and never
  become the reported head).
- ``patience_rule``: ``table`` looks the task up in ``patience``;
  ``max_epochs_over_20`` is kaiko's Table VI ("[Max epochs] / 20"): the paper's
  published values (CRC 26, PCam 10, BACH 625, MHIST 78) are
  round(max_steps / floor(n_train / batch) / 20), so max epochs is counted with
  whole batches, whatever the loader does.
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
# The patience eva's task configs of the kaiko paper's period (tags 0.0.x-0.1.0) set;
# with ``nesterov: false`` they are the alternative reading of Table VI
# (protocol ``kaiko2024_eva_configs``).
EVA_0_1_PATIENCE = {"crc": 24, "bach": 400, "mhist": 51, "pcam": 9}
PATIENCE_RULES = ("table", "max_epochs_over_20")


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
    patience_rule: str = "table"  # table | max_epochs_over_20
    drop_last: bool = False
    binary_logits: int = 1  # 1 | 2
    validate_partial_epoch: bool = False

    def with_overrides(self, overrides: dict | None) -> ProbeProtocol:
        """A copy with config overrides (e.g. the demo's fewer steps); unknown keys are errors."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)} - {"name"}
        if unknown:
            raise KeyError(f"unknown linear-probe protocol settings {sorted(unknown)}")
        out = dataclasses.replace(self, **overrides)
        if out.patience_rule not in PATIENCE_RULES:
            raise ValueError(f"linear-probe patience_rule {out.patience_rule!r} is not one of "
                             f"{PATIENCE_RULES}")
        if out.binary_logits not in (1, 2):
            raise ValueError(f"linear-probe binary_logits must be 1 or 2, not {out.binary_logits!r}")
        return out

    def max_epochs_patience(self, n_train: int, batch: int) -> int:
        """kaiko Table VI's "[Max epochs] / 20", as its published values count epochs."""
        whole_batches = max(1, n_train // batch)
        return max(1, round(self.max_steps / whole_batches / 20))

    def resolve(self, n_train: int, task: str) -> dict:
        """The settings one task actually runs with (recorded in the result)."""
        batch = self.batch_size
        if self.small_batch is not None and n_train < self.batch_size:
            batch = self.small_batch
        lr = self.lr * batch / self.ref_batch if self.ref_batch else self.lr
        if self.patience_rule == "max_epochs_over_20":
            patience = self.max_epochs_patience(n_train, batch)
        else:
            patience = self.patience.get(task, self.default_patience)
        return {**dataclasses.asdict(self), "batch": batch, "lr_resolved": lr,
                "patience_resolved": patience}


PROTOCOLS = {
    "kaiko2024": ProbeProtocol("kaiko2024", "sgd", 0.01, 4096, 4096, 256, momentum=0.9, nesterov=True,
                               patience_rule="max_epochs_over_20"),
    "kaiko2024_epoch_cosine": ProbeProtocol("kaiko2024_epoch_cosine", "sgd", 0.01, 4096, 4096, 256,
                                            momentum=0.9, nesterov=True, scheduler_interval="epoch",
                                            patience_rule="max_epochs_over_20"),
    # The paper's protocol as eva's configs of the time ran it: no Nesterov, their patience,
    # the cosine stepped per epoch.
    "kaiko2024_eva_configs": ProbeProtocol("kaiko2024_eva_configs", "sgd", 0.01, 4096, 4096, 256,
                                           momentum=0.9, nesterov=False, scheduler_interval="epoch",
                                           patience=dict(EVA_0_1_PATIENCE)),
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


def head_scores(head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, C) class scores; a one-logit binary head becomes (0, logit), so argmax is
    sigmoid(logit) > 0.5 and a softmax over the pair gives back sigmoid(logit)."""
    out = head(x)
    return torch.cat([torch.zeros_like(out), out], 1) if out.shape[1] == 1 else out


def train_probe(x_tr, y_tr, x_va, y_va, n_classes: int, settings: dict, seed: int):
    """Train one linear head; return (best head, best val balanced accuracy, epochs run)."""
    # A D×C head: one thread is fastest and keeps parallel jobs from oversubscribing cores.
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    one_logit = n_classes == 2 and settings["binary_logits"] == 1
    head = nn.Linear(x_tr.shape[1], 1 if one_logit else n_classes)
    opt = _optimizer(head, settings)
    base = [grp["lr"] for grp in opt.param_groups]
    if one_logit:
        bce = nn.BCEWithLogitsLoss()

        def loss_fn(logits, y):
            return bce(logits[:, 0], y.float())
    else:
        loss_fn = nn.CrossEntropyLoss()
    n, batch = len(y_tr), min(settings["batch"], len(y_tr))
    steps_per_epoch = n // batch if settings["drop_last"] else math.ceil(n / batch)
    stopper = EarlyStopping(settings["patience_resolved"], best=-1.0)
    step, epoch = 0, 0
    while step < settings["max_steps"]:
        order = torch.randperm(n, generator=g)
        head.train()
        completed = True
        for b in range(steps_per_epoch):
            if step >= settings["max_steps"]:
                completed = False
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
        if not completed and not settings["validate_partial_epoch"]:
            break
        epoch += 1
        head.eval()
        with torch.no_grad():
            score = balanced_accuracy(y_va.numpy(), head_scores(head, x_va).argmax(1).numpy())
        if stopper.update(score, epoch,
                          lambda: {k: v.clone() for k, v in head.state_dict().items()}):
            break
    if stopper.best_state is not None:
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
                scores = head_scores(head, t[part]).numpy()
                for name, v in classification_metrics(y[part].numpy(), scores).items():
                    runs.setdefault(f"{part}_{name}", []).append(v)
        runs.setdefault("epochs", []).append(float(epochs))
    runs["balanced_accuracy"] = list(runs["test_balanced_accuracy"])
    return {"settings": settings, "seeds": seeds, "runs": runs,
            "n": {k: int(len(v)) for k, v in idx.items()}}
