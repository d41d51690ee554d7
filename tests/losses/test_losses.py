"""Losses against reference formulas computed by hand on small arrays."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from pathfm.losses import DINOLoss, KoLeoLoss, iBOTPatchLoss, sinkhorn_knopp


def test_dino_loss_is_cross_entropy_over_other_crops():
    torch.manual_seed(0)
    s_logits = torch.randn(3, 4, 5)  # 2 global + 1 local student crops, B=4, K=5
    t_probs = torch.softmax(torch.randn(2, 4, 5), dim=-1)
    loss = DINOLoss(5, student_temp=0.1)(s_logits, t_probs)
    terms = []
    for t in range(2):
        for s in range(3):
            if s == t:
                continue
            for b in range(4):
                p = t_probs[t, b].numpy()
                q = np.exp(s_logits[s, b].numpy() / 0.1)
                q /= q.sum()
                terms.append(-(p * np.log(q)).sum())
    assert math.isclose(loss.item(), float(np.mean(terms)), rel_tol=1e-5)


def test_dino_center_ema_and_centred_softmax():
    loss = DINOLoss(3, center_momentum=0.9)
    logits = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    loss.update_center(logits)
    assert torch.equal(loss.center, torch.zeros(1, 3))  # queued until the step ends
    loss.apply_center_update()
    assert torch.allclose(loss.center, 0.1 * logits.mean(0, keepdim=True))
    probs = loss.softmax_center_teacher(logits, 0.5)
    assert torch.allclose(probs, torch.softmax((logits - loss.center) / 0.5, dim=-1))


def test_sinkhorn_rows_and_columns():
    torch.manual_seed(0)
    b, k = 12, 6
    q = sinkhorn_knopp(torch.randn(b, k), temp=0.5, n_iterations=200)
    assert torch.allclose(q.sum(dim=1), torch.ones(b), atol=1e-5)  # each sample: a distribution
    assert torch.allclose(q.sum(dim=0), torch.full((k,), b / k), atol=1e-3)  # equipartition


def test_ibot_masked_matches_dense_and_hand_formula():
    torch.manual_seed(0)
    b, n, k = 3, 4, 5
    s = torch.randn(b, n, k)
    t = torch.softmax(torch.randn(b, n, k), dim=-1)
    masks = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    loss = iBOTPatchLoss(k, student_temp=0.1)
    dense = loss(s, t, masks)
    flat = loss.forward_masked(s[masks], t[masks], masks)
    ce = -(t * F.log_softmax(s / 0.1, dim=-1)).sum(-1)
    hand = (ce[0, [0, 2]].mean() + ce[2].mean()) / 2  # image 1 has no masked token
    assert torch.allclose(dense, hand, atol=1e-6)
    assert torch.allclose(flat, hand, atol=1e-6)
    assert torch.allclose(loss(s, t, None), ce.mean(), atol=1e-6)  # distillation: all tokens


def test_koleo_is_minus_mean_log_nearest_neighbour_distance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 4))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    d = np.linalg.norm(xn[:, None] - xn[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    expected = -np.log(d.min(axis=1)).mean()
    got = KoLeoLoss()(torch.tensor(x, dtype=torch.float32)).item()
    assert math.isclose(got, expected, rel_tol=1e-4)
