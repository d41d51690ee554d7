"""SSL and distillation losses, one ``nn.Module`` per file (chunked variants beside them)."""

from pathfm.losses.chunked_prototype_ce import (
    DEFAULT_CHUNK_ROWS,
    PrototypeTargets,
    dino_cross_crop_ce,
    ibot_patch_ce,
    prototype_cross_entropy,
    teacher_targets,
)
from pathfm.losses.dino_clstoken_loss import DINOLoss, cross_crop_entropy, sinkhorn_knopp
from pathfm.losses.expert_distill_loss import ExpertDistillLoss, resample_tokens
from pathfm.losses.ibot_patch_loss import iBOTPatchLoss
from pathfm.losses.koleo_loss import KoLeoLoss

__all__ = ["DEFAULT_CHUNK_ROWS", "DINOLoss", "ExpertDistillLoss", "KoLeoLoss",
           "PrototypeTargets", "cross_crop_entropy", "dino_cross_crop_ce", "iBOTPatchLoss",
           "ibot_patch_ce", "prototype_cross_entropy", "resample_tokens", "sinkhorn_knopp",
           "teacher_targets"]
