"""Running per-dimension standardisation of frozen teacher tokens for learned teacher heads."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn


class FeatureStandardizer(nn.Module):
    """Per-dimension standardisation of frozen features with running statistics.

    forward(x (..., D)) -> (x − mean) / std, with ``mean`` / ``var`` buffers that
    ``update(x)`` moves by EMA (the first update sets them). Frozen teacher tokens
    share a large common direction (every CLS token of a ViT does), so heads fed the
    raw tokens give nearly the same logits for every image; once the DINO centre has
    learned that common part, the centred targets are uniform and learned heads
    collapse (loss = ln K). Standardised inputs keep per-image differences in the
    logits from the first step.
    """

    def __init__(self, dim: int, momentum: float = 0.99, eps: float = 1e-6):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        flat = x.reshape(-1, x.shape[-1]).float()
        mean = ddp_mean(flat.mean(0))
        var = ddp_mean((flat - mean).pow(2).mean(0))
        m = self.momentum if self.count > 0 else 0.0
        self.mean.mul_(m).add_(mean, alpha=1 - m)
        self.var.mul_(m).add_(var, alpha=1 - m)
        self.count += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.float() - self.mean) / (self.var + self.eps).sqrt()).to(x.dtype)


def ddp_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over ranks (itself on one process)."""
    if dist.is_available() and dist.is_initialized():
        x = x.clone()
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x
