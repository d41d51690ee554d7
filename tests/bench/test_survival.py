import math

import numpy as np
import pytest
import torch
from sksurv.metrics import concordance_index_censored

from pathfm.bench.cox import c_index, cox_ph_loss
from pathfm.bench.splits import grouped_kfold
from pathfm.bench.survival import (SurvivalProtocol, fit_meanpool_coxph, patient_bags, run_survival,
                                   select_coxph_alpha)


def test_cox_loss_equals_hand_computed_breslow_with_ties():
    r = torch.tensor([0.5, -0.2, 1.0, 0.3, 0.0], dtype=torch.float64)
    t = torch.tensor([2.0, 2.0, 3.0, 5.0, 1.0], dtype=torch.float64)
    e = torch.tensor([1, 1, 0, 1, 0], dtype=torch.float64)
    ex = [math.exp(v) for v in r.tolist()]
    # Events at t=2 (two tied: subjects 0, 1; risk set {0,1,2,3}) and t=5 (subject 3; set {3}).
    s2 = ex[0] + ex[1] + ex[2] + ex[3]
    hand = -((0.5 - math.log(s2)) + (-0.2 - math.log(s2)) + (0.3 - math.log(ex[3]))) / 3
    assert float(cox_ph_loss(r, t, e)) == pytest.approx(hand, rel=1e-12)
    assert cox_ph_loss(r, t, torch.zeros(5)) is None


def test_cox_loss_gradient_is_finite():
    r = torch.zeros(4, requires_grad=True)
    cox_ph_loss(r, torch.tensor([1.0, 2, 3, 4]), torch.tensor([1.0, 0, 1, 0])).backward()
    assert torch.isfinite(r.grad).all()


def test_c_index_matches_sksurv_with_ties_and_censoring():
    time = np.array([1, 2, 2, 3, 4, 4, 5, 6.0])
    event = np.array([1, 1, 0, 1, 0, 1, 1, 0])
    risk = np.array([0.9, 0.5, 0.5, 0.7, 0.1, 0.3, 0.3, 0.0])
    ref = concordance_index_censored(event.astype(bool), time, risk, tied_tol=1e-8)[0]
    assert c_index(time, event, risk) == pytest.approx(ref)
    # By hand on a 3-subject case with a tied risk: pairs (0,1) concordant, (0,2) tie -> 0.5.
    assert c_index(np.array([1, 2, 3.0]), np.array([1, 0, 0]), np.array([2, 1, 2.0])) == \
        pytest.approx(0.75)
    assert math.isnan(c_index(time, np.zeros(8), risk))


def toy_cohort(n: int, seed: int):
    rng = np.random.default_rng(seed)
    bags, hazard = [], []
    for _ in range(n):
        frac = rng.uniform(0, 0.5)
        bag = rng.normal(size=(30, 8))
        bag[: int(frac * 30), 0] += 3.0
        bags.append(bag)
        hazard.append(math.exp(4 * frac))
    hazard = np.array(hazard)
    t_event = rng.exponential(1 / hazard)
    t_cens = rng.exponential(2.0, n)
    return bags, np.minimum(t_event, t_cens), (t_event <= t_cens).astype(int)


def test_meanpool_coxph_ranks_toy_hazard():
    bags, time, event = toy_cohort(80, 0)
    out = run_survival(bags, time, event, SurvivalProtocol(coxph_alphas=(1.0,)), seed=0,
                       model="meanpool_coxph")
    assert len(out["runs"]) == 5 and np.mean([r["c_index"] for r in out["runs"]]) > 0.6


def test_patient_bags_concatenate_slides():
    bags = [np.ones((2, 3)), np.zeros((4, 3)), np.ones((1, 3))]
    merged, ids = patient_bags(bags, np.array(["p1", "p2", "p1"]))
    assert ids.tolist() == ["p1", "p2"] and merged[0].shape == (3, 3) and merged[1].shape == (4, 3)


def test_coxph_alpha_selection_scores_inner_folds_and_breaks_ties_to_larger_alpha():
    rng = np.random.default_rng(3)
    n, d = 40, 200                      # more dimensions than patients
    x = rng.normal(size=(n, d))
    time, event = rng.exponential(1.0, n), rng.integers(0, 2, n)
    event[:3] = 1
    alpha, scores = select_coxph_alpha(x, time, event, (1.0, 10.0, 1e4), 3, seed=0)
    folds = grouped_kfold(event, np.arange(n), 3, 0)
    for a in (1.0, 10.0, 1e4):          # each score: mean test C-index of the inner folds
        direct = [concordance_index_censored(event[va].astype(bool), time[va],
                                             fit_meanpool_coxph(x[tr], time[tr], event[tr], a)(x[va]),
                                             tied_tol=1e-8)[0] for tr, va in folds]
        assert scores[a] == pytest.approx(np.mean(direct), abs=1e-12)
    assert scores[alpha] == max(scores.values())
    # Constant features: every alpha predicts equal risks (C = 0.5); the largest is kept.
    assert select_coxph_alpha(np.ones((n, 5)), time, event, (1.0, 10.0), 3, seed=0)[0] == 10.0
    assert select_coxph_alpha(x, time, event, (5.0,), 3, seed=0) == (5.0, {})


def test_meanpool_coxph_records_selected_alpha():
    bags, time, event = toy_cohort(80, 0)
    out = run_survival(bags, time, event, SurvivalProtocol(), seed=0, model="meanpool_coxph")
    assert all(d["alpha"] in SurvivalProtocol().coxph_alphas for d in out["details"])
    assert np.mean([r["c_index"] for r in out["runs"]]) > 0.6
