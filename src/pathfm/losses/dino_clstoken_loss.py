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


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, or as it is when it is float64.

    Half-precision scores (autocast) are upcast as before; float64 stays float64 so
    that exactness checks (the chunked losses against these) are not limited by
    float32 rounding.
    """
    return x if x.dtype == torch.float64 else x.float()


@torch.no_grad()
def sinkhorn_knopp(logits: torch.Tensor, temp: float, n_iterations: int = 3) -> torch.Tensor:
    """(B, K) teacher logits -> (B, K) assignments; each row sums to 1.

    Alternately normalises prototypes (columns of the B×K matrix) to mass 1/K and
    samples to mass 1/B, over the global batch when distributed, so prototypes are
    used about equally (column sums ≈ B/K after the final rescale).
    """
    q = torch.exp(at_least_float32(logits) / temp).t()  # (K, B)
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
    log_p = F.log_softmax(at_least_float32(student_logits) / student_temp, dim=-1)  # (S, B, K)
    # (T, S, B): CE for every teacher/student crop pair, per image.
    ce = -torch.einsum("tbk,sbk->tsb", at_least_float32(teacher_probs), log_p)
    n_t, n_s = ce.shape[:2]
    keep = ~torch.eye(n_t, n_s, dtype=torch.bool, device=ce.device)
    return ce[keep].mean()


class TeacherCentering(nn.Module):
    """Teacher-side targets shared by the DINO and iBOT losses: an EMA centre
    (``center`` buffer, (1, K)) with softmax sharpening, or Sinkhorn-Knopp.

    The centre moves once per optimiser step: ``update_center`` only adds a
    micro-batch's teacher logits to pending sums, ``apply_center_update`` (the task's
    ``update_teacher``) makes one EMA step from all of them. With gradient
    accumulation every micro-batch of a step is then centred by the same centre and
    k micro-batches move it exactly as one batch of their union would.
    """

    def __init__(self, out_dim: int, student_temp: float = 0.1, center_momentum: float = 0.9):
        super().__init__()
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))
        # Not persistent: the loop checkpoints after apply_center_update, when nothing is
        # pending, and checkpoints keep exactly the one ``center`` key they always had.
        self.register_buffer("_pending_sum", torch.zeros(1, out_dim), persistent=False)
        self._pending_rows = 0
        self._pending = False

    @torch.no_grad()
    def softmax_center_teacher(self, teacher_logits: torch.Tensor, teacher_temp: float
                               ) -> torch.Tensor:
        """(..., K) logits -> (..., K) probabilities, centred by the EMA centre."""
        return F.softmax((at_least_float32(teacher_logits) - self.center) / teacher_temp, dim=-1)

    @torch.no_grad()
    def sinkhorn_knopp_teacher(self, teacher_logits: torch.Tensor, teacher_temp: float,
                               n_iterations: int = 3) -> torch.Tensor:
        """(T, B, K) or (B, K) logits -> probabilities of the same shape."""
        flat = teacher_logits.reshape(-1, teacher_logits.shape[-1])
        return sinkhorn_knopp(flat, teacher_temp, n_iterations).reshape(teacher_logits.shape)

    @torch.no_grad()
    def update_center(self, teacher_logits: torch.Tensor) -> None:
        """Queue (..., K) teacher logits for the next ``apply_center_update``."""
        flat = at_least_float32(teacher_logits.reshape(-1, teacher_logits.shape[-1]))
        self.accumulate_center(flat.sum(dim=0, keepdim=True), flat.shape[0])

    @torch.no_grad()
    def accumulate_center(self, logit_sum: torch.Tensor, n_rows: int) -> None:
        """Queue the sum over ``n_rows`` rows of teacher logits, (K,) or (1, K).

        The chunked losses give the sum without the (rows, K) logits
        (``PrototypeTargets.logit_sum``).
        """
        row_sum = logit_sum.reshape(1, -1).to(self._pending_sum.dtype)
        if self._pending:
            self._pending_sum.add_(row_sum)
        else:
            # A copy, not 0 + sum: one micro-batch per step reproduces the immediate
            # update bit for bit.
            self._pending_sum.copy_(row_sum)
        self._pending_rows += int(n_rows)
        self._pending = True

    @torch.no_grad()
    def apply_center_update(self) -> None:
        """One EMA step towards the mean of every queued row over all ranks; clears the queue.

        A no-op when nothing was queued (Sinkhorn centring). Every rank must call it
        after the same ``update_center`` calls, since both sums are all-reduced.
        """
        if not self._pending:
            return
        total = _all_reduce(self._pending_sum)
        n_rows = self._pending_rows
        if _world_size() > 1:
            # Summed, not rows × world size: ranks may hold different numbers of rows
            # (masked iBOT tokens), and the centre is the mean over all of them.
            count = torch.tensor([float(n_rows)], dtype=torch.float64, device=total.device)
            n_rows = int(_all_reduce(count).item())
        if n_rows > 0:
            self.center.mul_(self.center_momentum).add_(total / n_rows,
                                                        alpha=1 - self.center_momentum)
        self._pending_sum.zero_()
        self._pending_rows = 0
        self._pending = False


class DINOLoss(TeacherCentering):
    """DINO CLS loss.

    student_logits: (S, B, K), S = global + local crops (globals first).
    teacher_probs:  (T, B, K) from ``softmax_center_teacher`` or ``sinkhorn_knopp_teacher``.
    forward -> scalar loss.
    """


    def forward(self, student_logits: torch.Tensor, teacher_probs: torch.Tensor) -> torch.Tensor:
        return cross_crop_entropy(student_logits, teacher_probs, self.student_temp)
