"""iBOT patch-token loss: teacher patch distributions supervise the student's.

Masked image modelling (iBOT / DINOv2): only masked student tokens are scored,
against the teacher's view of the unmasked image. Distillation (H0-mini): no
masks, every patch token is scored (``masks=None``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pathfm.losses.dino_clstoken_loss import TeacherCentering, at_least_float32


class iBOTPatchLoss(TeacherCentering):  # noqa: N801 — the method's own spelling
    """forward(student_logits (B, N, K), teacher_probs (B, N, K), masks (B, N) bool | None).

    Per image: mean CE over its scored tokens; then the mean over images that
    have at least one scored token. Returns a scalar.
    ``forward_masked`` computes the same value from only the M masked tokens,
    (M, K) each, which is what a large K (65,536 prototypes) affords.
    """

    def forward(self, student_logits: torch.Tensor, teacher_probs: torch.Tensor,
                masks: torch.Tensor | None = None) -> torch.Tensor:
        log_p = F.log_softmax(at_least_float32(student_logits) / self.student_temp, dim=-1)
        ce = -(at_least_float32(teacher_probs) * log_p).sum(dim=-1)  # (B, N)
        if masks is None:
            return ce.mean()
        m = masks.to(ce.dtype)
        n = m.sum(dim=-1)  # (B,)
        per_image = (ce * m).sum(dim=-1) / n.clamp(min=1.0)
        has_tokens = n > 0
        if not has_tokens.any():
            return ce.sum() * 0.0  # keeps the graph; no image was masked this step
        return per_image[has_tokens].mean()

    def forward_masked(self, student_logits: torch.Tensor, teacher_probs: torch.Tensor,
                       masks: torch.Tensor) -> torch.Tensor:
        """student_logits, teacher_probs: (M, K) rows of ``masks.nonzero()`` order; masks (B, N)."""
        log_p = F.log_softmax(at_least_float32(student_logits) / self.student_temp, dim=-1)
        ce = -(at_least_float32(teacher_probs) * log_p).sum(dim=-1)  # (M,)
        n_per_image = masks.sum(dim=-1)  # (B,)
        weights = (1.0 / n_per_image.clamp(min=1).to(ce.dtype))
        weights = weights[:, None].expand_as(masks)[masks]  # (M,): 1/n of the token's image
        n_images = (n_per_image > 0).sum().clamp(min=1)
        return (ce * weights).sum() / n_images
