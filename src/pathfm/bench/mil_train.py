"""Training loop shared by the bag-level benchmarks (slide classification, survival).

Mini-batches of padded bags, AdamW, cosine decay of the learning rate over the
epoch budget (eva's ``CosineAnnealingLR(T_max = max_epochs)``), and early
stopping on a validation score (higher is better) with the best weights
restored, as eva's ``EarlyStopping`` + best-checkpoint evaluation does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from pathfm.bench.abmil import pad_bags
from pathfm.bench.early_stopping import EarlyStopping


@dataclass
class MILTrainSettings:
    """Optimiser and stopping settings; recorded verbatim beside each result."""

    lr: float = 1e-3
    weight_decay: float = 0.01          # torch's AdamW default, which eva keeps
    max_epochs: int = 100
    patience: int = 20                  # epochs without validation improvement
    batch_size: int = 32
    max_tiles: int | None = 10_000      # tiles sampled per bag (eva: Camelyon16 10k, PANDA 1k)
    projected_input_size: int | None = 128
    hidden_size_attention: int = 128
    hidden_sizes_mlp: tuple[int, ...] = field(default=(128, 64))
    dropout: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden_sizes_mlp"] = list(self.hidden_sizes_mlp)
        return d


def subsample_bag(bag: np.ndarray, max_tiles: int | None, rng: np.random.Generator) -> np.ndarray:
    """(N, D) -> (min(N, max_tiles), D), tiles drawn without replacement."""
    if max_tiles is None or bag.shape[0] <= max_tiles:
        return bag
    return bag[np.sort(rng.choice(bag.shape[0], max_tiles, replace=False))]


@torch.no_grad()
def predict(model: nn.Module, bags: list[torch.Tensor], batch_size: int) -> np.ndarray:
    """-> (N_bags, output_size) outputs in input order."""
    model.eval()
    outs = []
    for i in range(0, len(bags), batch_size):
        x, m = pad_bags(bags[i:i + batch_size])
        outs.append(model(x, m))
    return torch.cat(outs).numpy()


def fit_mil(model: nn.Module, train_bags: list[torch.Tensor], train_targets: torch.Tensor,
            val_bags: list[torch.Tensor], val_targets: np.ndarray,
            loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
            score_fn: Callable[[np.ndarray, np.ndarray], float],
            settings: MILTrainSettings, seed: int) -> dict:
    """Train in place; restore the best-validation weights. -> history dict.

    ``train_targets`` is indexed like ``train_bags`` ((N,) long labels, or (N, 2)
    time/event for survival). A batch whose loss is undefined (a Cox batch with
    no event) returns ``None`` from ``loss_fn`` and is skipped.
    """
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings.max_epochs, eta_min=0.0)
    stopper = EarlyStopping(settings.patience, best=-np.inf,
                            state=copy.deepcopy(model.state_dict()), step=-1)
    history = []
    for epoch in range(settings.max_epochs):
        model.train()
        order = torch.randperm(len(train_bags), generator=g).tolist()
        losses = []
        for i in range(0, len(order), settings.batch_size):
            idx = order[i:i + settings.batch_size]
            x, m = pad_bags([train_bags[j] for j in idx])
            loss = loss_fn(model(x, m), train_targets[idx])
            if loss is None:
                continue
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        sched.step()
        score = score_fn(predict(model, val_bags, settings.batch_size), val_targets)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)) if losses else None,
                        "val_score": score})
        if stopper.update(score, epoch, lambda: copy.deepcopy(model.state_dict())):
            break
    stopper.restore(model)
    return {"best_val_score": float(stopper.best), "best_epoch": stopper.best_step,
            "epochs": len(history),
            "history": history}
