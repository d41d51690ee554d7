"""DINO loss on CLS-token prototype scores, with EMA or Sinkhorn-Knopp centering.

Teacher side (no gradient): ``softmax_center_teacher`` (DINO: subtract an EMA
centre kept in a buffer, then sharpen with a low temperature) or
``sinkhorn_knopp_teacher`` (DINOv2 / SwAV: equipartition over prototypes).
Student side: cross-entropy between every teacher crop and every *other*
student crop, averaged over pairs and images.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


def _all_reduce(x: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(x)
    return x


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@torch.no_grad()
def sinkhorn_knopp(logits: torch.Tensor, temp: float, n_iterations: int = 3) -> torch.Tensor:
    """(B, K) teacher logits -> (B, K) assignments; each row sums to 1.

    Alternately normalises prototypes (columns of the B×K matrix) to mass 1/K and
    samples to mass 1/B, over the global batch when distributed, so prototypes are
    used about equally (column sums ≈ B/K after the final rescale).
    """
    q = torch.exp(logits.float() / temp).t()  # (K, B)
    k, b = q.shape
    b *= _world_size()
    q /= _all_reduce(q.sum())
    for _ in range(n_iterations):
        q /= _all_reduce(q.sum(dim=1, keepdim=True))
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    q *= b
    return q.t()


def cross_crop_entropy(student_logits: torch.Tensor, teacher_probs: torch.Tensor,
                       student_temp: float) -> torch.Tensor:
    """Mean over pairs (s, t), s != t, of CE(teacher_probs[t], softmax(student[s]/T)).

    student_logits: (S, B, K) — the first T student crops are the same views as
    the T teacher crops, so a pair with s == t (same view) is skipped.
    teacher_probs: (T, B, K). Returns a scalar.
    """
    log_p = F.log_softmax(student_logits.float() / student_temp, dim=-1)  # (S, B, K)
    # (T, S, B): CE for every teacher/student crop pair, per image.
    ce = -torch.einsum("tbk,sbk->tsb", teacher_probs.float(), log_p)
    n_t, n_s = ce.shape[:2]
    keep = ~torch.eye(n_t, n_s, dtype=torch.bool, device=ce.device)
    return ce[keep].mean()


class TeacherCentering(nn.Module):
    """Teacher-side targets shared by the DINO and iBOT losses: an EMA centre
    (``center`` buffer, (1, K)) with softmax sharpening, or Sinkhorn-Knopp."""

    def __init__(self, out_dim: int, student_temp: float = 0.1, center_momentum: float = 0.9):
        super().__init__()
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))

    @torch.no_grad()
    def softmax_center_teacher(self, teacher_logits: torch.Tensor, teacher_temp: float
                               ) -> torch.Tensor:
        """(..., K) logits -> (..., K) probabilities, centred by the EMA centre."""
        return F.softmax((teacher_logits.float() - self.center) / teacher_temp, dim=-1)

    @torch.no_grad()
    def sinkhorn_knopp_teacher(self, teacher_logits: torch.Tensor, teacher_temp: float,
                               n_iterations: int = 3) -> torch.Tensor:
        """(T, B, K) or (B, K) logits -> probabilities of the same shape."""
        flat = teacher_logits.reshape(-1, teacher_logits.shape[-1])
        return sinkhorn_knopp(flat, teacher_temp, n_iterations).reshape(teacher_logits.shape)

    @torch.no_grad()
    def update_center(self, teacher_logits: torch.Tensor) -> None:
        """EMA of the batch-mean teacher logits (over all ranks); (..., K) input."""
        flat = teacher_logits.reshape(-1, teacher_logits.shape[-1]).float()
        batch_center = _all_reduce(flat.sum(dim=0, keepdim=True)) / (flat.shape[0] * _world_size())
        self.center.mul_(self.center_momentum).add_(batch_center, alpha=1 - self.center_momentum)


class DINOLoss(TeacherCentering):
    """DINO CLS loss.

    student_logits: (S, B, K), S = global + local crops (globals first).
    teacher_probs:  (T, B, K) from ``softmax_center_teacher`` or ``sinkhorn_knopp_teacher``.
    forward -> scalar loss.
    """


    def forward(self, student_logits: torch.Tensor, teacher_probs: torch.Tensor) -> torch.Tensor:
        return cross_crop_entropy(student_logits, teacher_probs, self.student_temp)
