"""Exponential moving average of parameters (the DINO teacher, or a spare EMA)."""

from __future__ import annotations

import torch
import torch.nn as nn


@torch.no_grad()
def ema_update_(target: nn.Module, source: nn.Module, momentum: float) -> None:
    """target ← momentum·target + (1 − momentum)·source, parameter by parameter.

    Buffers are copied as they are (e.g. nothing to average in a LayerNorm ViT).
    Parameters are matched by name, so ``source`` may be a DDP-unwrapped module
    whose names equal the target's.
    """
    src = dict(source.named_parameters())
    t_params, s_params = [], []
    for name, p in target.named_parameters():
        t_params.append(p.data)
        s_params.append(src[name].data.to(p.dtype))
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, s_params, alpha=1.0 - momentum)
    src_buffers = dict(source.named_buffers())
    for name, b in target.named_buffers():
        if name in src_buffers:
            b.copy_(src_buffers[name])


def make_frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy with requires_grad False everywhere (a teacher never gets gradients)."""
    import copy

    frozen = copy.deepcopy(module)
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen
