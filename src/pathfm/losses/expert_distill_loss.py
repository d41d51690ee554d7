"""GPFM expert distillation loss: the student's projected tokens match a frozen expert's.

For one expert e with weights (w_cls, w_patch) (GPFM release: UNI 1.0/0.25,
Phikon 0.5/0.125, CONCH 1.0/0.1):

    cls   = mean_b (1 − cos(s_cls_b, e_cls_b))
    patch = mean_{b,n} [ 0.9·(1 − cos(s_bn, ê_bn)) ] + 0.1·smoothL1(s, ê)
    loss  = w_cls·cls + w_patch·patch

where ê is the expert's patch-token grid resampled to the student's grid
(bilinear by default; GPFM's code uses bicubic — ``resample="bicubic"``), and
smooth-L1 (β = 1) is averaged over every element, as torch's default reduction.
The 0.9 / 0.1 mix is ``cos_weight`` / ``smooth_l1_weight``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def resample_tokens(tokens: torch.Tensor, grid: tuple[int, int], to_grid: tuple[int, int],
                    mode: str = "bilinear") -> torch.Tensor:
    """(B, h·w, D) tokens on an h × w grid -> (B, H·W, D) on ``to_grid`` = (H, W).

    Interpolates the feature maps (align_corners=False, i.e. pixel centres), so a
    grid resampled to itself is unchanged.
    """
    b, n, d = tokens.shape
    h, w = grid
    if n != h * w:
        raise ValueError(f"{n} tokens do not fill a {h}×{w} grid")
    if tuple(to_grid) == (h, w):
        return tokens
    maps = tokens.transpose(1, 2).reshape(b, d, h, w)
    maps = F.interpolate(maps.float(), size=tuple(to_grid), mode=mode, align_corners=False)
    return maps.flatten(2).transpose(1, 2).to(tokens.dtype)


class ExpertDistillLoss(nn.Module):
    """forward(student_cls (B, D), student_patch (B, Hs·Ws, D), student_grid (Hs, Ws),
               expert_cls (B, D), expert_patch (B, He·We, D), expert_grid (He, We)) -> dict
    with scalars ``cls``, ``patch`` (unweighted) and ``loss`` (weighted sum).

    Student tokens are already projected to the expert's dimension D.
    """

    def __init__(self, cls_weight: float = 1.0, patch_weight: float = 0.25,
                 cos_weight: float = 0.9, smooth_l1_weight: float = 0.1,
                 smooth_l1_beta: float = 1.0, resample: str = "bilinear"):
        super().__init__()
        if resample not in ("bilinear", "bicubic"):
            raise ValueError(f"resample {resample!r} is not bilinear or bicubic")
        self.cls_weight, self.patch_weight = cls_weight, patch_weight
        self.cos_weight, self.smooth_l1_weight = cos_weight, smooth_l1_weight
        self.smooth_l1_beta, self.resample = smooth_l1_beta, resample

    def forward(self, student_cls, student_patch, student_grid, expert_cls, expert_patch,
                expert_grid) -> dict:
        s_cls, e_cls = student_cls.float(), expert_cls.float()
        cls = (1 - F.cosine_similarity(s_cls, e_cls, dim=-1)).mean()
        target = resample_tokens(expert_patch.float(), expert_grid, student_grid, self.resample)
        s_patch = student_patch.float()
        cos = (1 - F.cosine_similarity(s_patch, target, dim=-1)).mean()
        l1 = F.smooth_l1_loss(s_patch, target, beta=self.smooth_l1_beta)
        patch = self.cos_weight * cos + self.smooth_l1_weight * l1
        return {"cls": cls, "patch": patch,
                "loss": self.cls_weight * cls + self.patch_weight * patch}
