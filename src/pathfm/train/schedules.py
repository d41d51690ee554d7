"""Step schedules: linear warmup then cosine, as in DINO / DINOv2.

Schedules are pure functions of the step, so resuming needs only the step
number: there is no scheduler state to save or to get out of sync.
Used for learning rate, weight decay, teacher temperature (warmup then flat:
``base == final``) and teacher EMA momentum (cosine from 0.996 to 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CosineSchedule:
    """value(step): linear ``warmup_start`` -> ``base`` over ``warmup_steps``, then
    cosine ``base`` -> ``final`` until ``total_steps``; ``final`` afterwards."""

    base: float
    final: float
    total_steps: int
    warmup_steps: int = 0
    warmup_start: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.warmup_start + (self.base - self.warmup_start) * step / self.warmup_steps
        span = max(self.total_steps - self.warmup_steps, 1)
        t = min(max(step - self.warmup_steps, 0), span) / span
        return self.final + 0.5 * (self.base - self.final) * (1 + math.cos(math.pi * t))


def constant(value: float) -> CosineSchedule:
    return CosineSchedule(base=value, final=value, total_steps=1)


def scaled_lr(base_lr: float, global_batch: int, rule: str = "linear",
              reference_batch: int | None = None) -> float:
    """DINO's linear (lr·B/256) or DINOv2's square-root (lr·sqrt(B/1024)) scaling."""
    if rule == "linear":
        return base_lr * global_batch / (reference_batch or 256)
    if rule == "sqrt":
        return base_lr * math.sqrt(global_batch / (reference_batch or 1024))
    if rule == "none":
        return base_lr
    raise ValueError(f"lr scaling rule {rule!r} is not one of linear, sqrt, none")
