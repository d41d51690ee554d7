"""EarlyStopping: strict improvement, patience counting, best state kept and restored."""

import math

import pytest
import torch

from pathfm.bench.early_stopping import EarlyStopping


def _run(values, patience, mode="max", **kw):
    """-> (number of evaluations made, stopper); states are the evaluation indices."""
    stopper = EarlyStopping(patience, mode=mode, **kw)
    for i, v in enumerate(values):
        if stopper.update(v, i, lambda i=i: f"state{i}"):
            return i + 1, stopper
    return len(values), stopper


def test_keeps_the_best_and_stops_after_patience_evaluations_without_improvement():
    n, s = _run([0.1, 0.5, 0.3, 0.4, 0.2, 0.9], patience=3)
    assert n == 5  # 0.3, 0.4, 0.2: three in a row without improvement
    assert (s.best, s.best_step, s.best_state, s.stale) == (0.5, 1, "state1", 3)


def test_improvement_resets_the_count():
    n, s = _run([0.1, 0.0, 0.2, 0.0, 0.3, 0.0, 0.0], patience=2)
    assert n == 7 and s.best == 0.3 and s.best_step == 4


def test_ties_do_not_improve_and_keep_the_earliest():
    n, s = _run([0.5, 0.5, 0.5], patience=5)
    assert (n, s.best_step, s.best_state, s.stale) == (3, 0, "state0", 2)
    n, s = _run([0.5, 0.5], patience=1)
    assert n == 2 and s.best_step == 0


def test_patience_zero_stops_at_the_first_evaluation_without_improvement():
    n, s = _run([0.1, 0.2, 0.2, 0.3], patience=0)
    assert n == 3 and s.best_step == 1
    n, _ = _run([0.1, 0.2, 0.3], patience=0)  # improving every time: never stops
    assert n == 3


def test_nan_is_no_improvement_and_initial_values_stay():
    n, s = _run([math.nan, math.nan], patience=5, best=-1.0, state="init", step=-1)
    assert (n, s.best, s.best_state, s.best_step, s.stale) == (2, -1.0, "init", -1, 2)


def test_initial_best_must_be_beaten():
    _, s = _run([-1.0, -0.5], patience=5, best=-1.0, state="init", step=0)
    assert (s.best, s.best_step, s.best_state) == (-0.5, 1, "state1")
    _, s = _run([-5.0], patience=5)  # default: -inf, so any number improves
    assert (s.best, s.best_step) == (-5.0, 0)


def test_mode_min():
    n, s = _run([3.0, 2.0, 2.0, 2.5, 1.0], patience=2, mode="min")
    assert n == 4 and (s.best, s.best_step) == (2.0, 1)
    assert EarlyStopping(1, mode="min").best == math.inf
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(1, mode="maximum")


def test_state_fn_called_only_on_improvement_and_restore_loads_it():
    calls = []
    model = torch.nn.Linear(2, 1)
    stopper = EarlyStopping(3)

    def state():
        calls.append(1)
        return {k: v.clone() for k, v in model.state_dict().items()}

    stopper.update(0.5, 0, state)
    best = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    stopper.update(0.4, 1, state)
    stopper.update(0.5, 2, state)
    assert len(calls) == 1
    stopper.restore(model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, best[k])
