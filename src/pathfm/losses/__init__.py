"""SSL and distillation losses, one ``nn.Module`` per file."""

from pathfm.losses.dino_clstoken_loss import DINOLoss, cross_crop_entropy, sinkhorn_knopp
from pathfm.losses.expert_distill_loss import ExpertDistillLoss, resample_tokens
from pathfm.losses.ibot_patch_loss import iBOTPatchLoss
from pathfm.losses.koleo_loss import KoLeoLoss

__all__ = ["DINOLoss", "ExpertDistillLoss", "KoLeoLoss", "cross_crop_entropy", "iBOTPatchLoss",
           "resample_tokens", "sinkhorn_knopp"]
