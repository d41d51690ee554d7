"""GPFM expert distillation loss against hand-computed values on tiny tensors."""

import math

import numpy as np
import pytest
import torch

from pathfm.losses import ExpertDistillLoss, resample_tokens


def _cos(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _smooth_l1(x, y, beta=1.0):
    d = np.abs(np.asarray(x) - np.asarray(y))
    return float(np.mean(np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta)))


def test_same_grid_matches_hand_formula():
    s_cls = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    e_cls = torch.tensor([[0.0, 2.0], [2.0, 2.0]])
    s_patch = torch.tensor([[[1.0, 2.0], [0.0, 1.0]], [[3.0, 0.0], [1.0, 1.0]]])  # (2, 2, 2)
    e_patch = torch.tensor([[[1.0, 0.0], [0.0, 3.0]], [[1.0, 0.5], [-1.0, 1.0]]])
    loss = ExpertDistillLoss(cls_weight=0.5, patch_weight=0.125)
    out = loss(s_cls, s_patch, (1, 2), e_cls, e_patch, (1, 2))
    # CLS: cos = 0 (orthogonal) and 1 (parallel) -> mean(1 - cos) = 0.5.
    assert out["cls"].item() == pytest.approx(0.5)
    sp, ep = s_patch.numpy().reshape(-1, 2), e_patch.numpy().reshape(-1, 2)
    cos_term = np.mean([1 - _cos(a, b) for a, b in zip(sp, ep)])
    patch = 0.9 * cos_term + 0.1 * _smooth_l1(sp, ep)
    assert out["patch"].item() == pytest.approx(patch, rel=1e-6)
    assert out["loss"].item() == pytest.approx(0.5 * 0.5 + 0.125 * patch, rel=1e-6)


def _bilinear_1d(n_in, n_out):
    """Interpolation matrix (n_out, n_in) of align_corners=False bilinear resizing."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        x = min(max((i + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1)
        lo = int(math.floor(x))
        hi = min(lo + 1, n_in - 1)
        m[i, lo] += 1 - (x - lo)
        m[i, hi] += x - lo
    return m


def test_expert_grid_is_resampled_bilinearly_to_the_student_grid():
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(2, 3, 4))                   # expert 2×3 grid, D = 4
    tokens = torch.tensor(grid.reshape(1, 6, 4), dtype=torch.float32)
    out = resample_tokens(tokens, (2, 3), (4, 6)).numpy().reshape(4, 6, 4)
    rows, cols = _bilinear_1d(2, 4), _bilinear_1d(3, 6)
    expected = np.einsum("ia,jb,abd->ijd", rows, cols, grid)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert resample_tokens(tokens, (2, 3), (2, 3)) is tokens  # same grid: untouched


def test_loss_uses_the_resampled_expert_tokens():
    torch.manual_seed(0)
    s_patch, e_patch = torch.randn(2, 16, 5), torch.randn(2, 4, 5)
    cls = torch.randn(2, 5)
    loss = ExpertDistillLoss(1.0, 1.0)
    out = loss(cls, s_patch, (4, 4), cls, e_patch, (2, 2))
    target = resample_tokens(e_patch, (2, 2), (4, 4))
    sp, tp = s_patch.reshape(-1, 5).numpy(), target.reshape(-1, 5).numpy()
    cos_term = np.mean([1 - _cos(a, b) for a, b in zip(sp, tp)])
    assert out["patch"].item() == pytest.approx(0.9 * cos_term + 0.1 * _smooth_l1(sp, tp),
                                                 rel=1e-5)
    assert out["cls"].item() == pytest.approx(0.0, abs=1e-6)
    bicubic = ExpertDistillLoss(1.0, 1.0, resample="bicubic")(cls, s_patch, (4, 4), cls,
                                                             e_patch, (2, 2))
    assert bicubic["patch"].item() != pytest.approx(out["patch"].item())


def test_per_expert_weights_scale_the_terms():
    torch.manual_seed(1)
    args = (torch.randn(3, 4), torch.randn(3, 9, 4), (3, 3), torch.randn(3, 4),
            torch.randn(3, 4, 4), (2, 2))
    uni = ExpertDistillLoss(1.0, 0.25)(*args)
    phikon = ExpertDistillLoss(0.5, 0.125)(*args)
    assert uni["cls"].item() == pytest.approx(phikon["cls"].item())
    assert phikon["loss"].item() == pytest.approx(0.5 * uni["loss"].item(), rel=1e-6)
    assert uni["loss"].item() == pytest.approx(uni["cls"].item() + 0.25 * uni["patch"].item(),
                                               rel=1e-6)


def test_gradient_reaches_only_the_student_side():
    s = torch.randn(2, 4, 3, requires_grad=True)
    e = torch.randn(2, 4, 3)
    ExpertDistillLoss()(s[:, 0], s, (2, 2), e[:, 0], e, (2, 2))["loss"].backward()
    assert s.grad is not None and torch.isfinite(s.grad).all()


def test_bad_grid_is_an_error():
    with pytest.raises(ValueError, match="do not fill"):
        resample_tokens(torch.zeros(1, 5, 2), (2, 2), (4, 4))
