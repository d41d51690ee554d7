import math

import torch
import torch.nn as nn

from pathfm.train.ema import ema_update_, make_frozen_copy
from pathfm.train.masking import sample_masks
from pathfm.train.schedules import CosineSchedule, scaled_lr


def test_cosine_schedule_with_warmup():
    s = CosineSchedule(base=1.0, final=0.1, total_steps=110, warmup_steps=10, warmup_start=0.0)
    assert s(0) == 0.0 and math.isclose(s(5), 0.5)
    assert math.isclose(s(10), 1.0)
    assert math.isclose(s(60), 0.55)  # half-way through the cosine
    assert math.isclose(s(110), 0.1) and math.isclose(s(500), 0.1)
    assert scaled_lr(5e-4, 1024, "linear") == 2e-3
    assert math.isclose(scaled_lr(1e-3, 4096, "sqrt"), 2e-3)


def test_ema_update_matches_formula():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    teacher = make_frozen_copy(student)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    ema_update_(teacher, student, momentum=0.9)
    for k, v in teacher.state_dict().items():
        assert torch.allclose(v, 0.9 * before[k] + 0.1 * student.state_dict()[k])
    assert all(not p.requires_grad for p in teacher.parameters())


def test_block_masks_shape_ratio_and_determinism():
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    m1 = sample_masks(8, 8, 8, 0.1, 0.5, 0.5, generator=g1)
    m2 = sample_masks(8, 8, 8, 0.1, 0.5, 0.5, generator=g2)
    assert m1.shape == (8, 64) and torch.equal(m1, m2)
    counts = m1.sum(1)
    assert (counts > 0).sum() == 4  # half of the crops are masked
    assert counts.max() <= 0.5 * 64
