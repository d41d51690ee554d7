"""Early stopping on a monitored validation value, with the best state kept.

The benchmarks' trainers (linear probe, bag-level MIL, segmentation decoder) all
validate every k steps or epochs, keep the state of the best evaluation so far,
stop after ``patience`` evaluations in a row without improvement and restore the
best state. ``EarlyStopping`` is that bookkeeping::

    stopper = EarlyStopping(patience, best=-1.0, state=copy.deepcopy(model.state_dict()))
    for epoch in ...:
        ...train...
        if stopper.update(score, epoch, lambda: copy.deepcopy(model.state_dict())):
            break
    stopper.restore(model)

Semantics (those of eva's ``EarlyStopping`` with ``min_delta=0``):

- improvement is strict: ``value > best`` (mode ``max``) or ``value < best``
  (``min``); a tie, or a NaN, counts as no improvement, so the earliest of equal
  values is kept;
- each evaluation without improvement adds one to ``stale``; ``update`` returns
  True (stop) once ``stale >= patience`` (``patience`` 0 stops at the first one);
  an improvement resets ``stale`` to 0 and never stops;
- ``best`` / ``state`` / ``step`` start as given: the value to beat, the state
  restored when nothing beats it, and the step reported then.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

MODES = ("max", "min")


class EarlyStopping:
    def __init__(self, patience: int, mode: str = "max", best: float | None = None,
                 state: Any = None, step: int | None = None):
        if mode not in MODES:
            raise ValueError(f"early-stopping mode {mode!r} is not one of {MODES}")
        self.patience, self.mode = patience, mode
        self.best = best if best is not None else (-math.inf if mode == "max" else math.inf)
        self.best_state, self.best_step, self.stale = state, step, 0

    def improves(self, value) -> bool:
        """Whether ``value`` strictly beats the best so far (False for NaN)."""
        return value > self.best if self.mode == "max" else value < self.best

    def update(self, value, step: int | None, state_fn: Callable[[], Any]) -> bool:
        """Record one evaluation; True when training should stop.

        ``state_fn()`` (a copy of the model's state) is called only on improvement.
        """
        if self.improves(value):
            self.best, self.best_state, self.best_step, self.stale = value, state_fn(), step, 0
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self, module) -> None:
        """Load the best state into ``module`` (``module.load_state_dict``)."""
        module.load_state_dict(self.best_state)
