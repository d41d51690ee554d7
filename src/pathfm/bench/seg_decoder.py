"""eva's convolutional segmentation decoders on frozen ViT patch-token feature maps.

``ConvDecoder``: (B, D, h, w) patch features -> ×2 nearest upsampling -> 3×3
conv-BN-ReLU (D -> 64) -> bilinear resize to the image size -> two 3×3
conv-BN-ReLU (64 -> 32 -> 32) -> 1×1 conv to class logits.
With ``with_image`` (eva's ``ConvDecoderWithImage``, used by the online CoNSeP
and MoNuSAC configs) the normalised input image is concatenated after the
resize, so the decoder can draw nucleus boundaries finer than the patch grid.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class ConvDecoder(nn.Module):
    """forward(features (B, D, h, w), image (B, 3, H, W)) -> logits (B, C, H, W)."""

    def __init__(self, in_features: int, num_classes: int, with_image: bool = True,
                 hidden_dims: tuple[int, int, int] = (64, 32, 32)):
        super().__init__()
        self.with_image = with_image
        self.stem = nn.Sequential(nn.Upsample(scale_factor=2), conv_bn_relu(in_features, hidden_dims[0]))
        extra = 3 if with_image else 0
        self.image_block = nn.Sequential(conv_bn_relu(hidden_dims[0] + extra, hidden_dims[1]),
                                         conv_bn_relu(hidden_dims[1], hidden_dims[2]))
        self.classifier = nn.Conv2d(hidden_dims[2], num_classes, kernel_size=1)

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        x = self.stem(features)
        x = F.interpolate(x, size=image.shape[-2:], mode="bilinear", align_corners=False)
        if self.with_image:
            x = torch.cat([x, image], dim=1)
        return self.classifier(self.image_block(x))


def tokens_to_map(patch_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(B, N, D) patch tokens in row-major order -> (B, D, h, w)."""
    b, n, d = patch_tokens.shape
    h, w = grid
    if n != h * w:
        raise ValueError(f"{n} patch tokens do not form a {h}×{w} grid")
    return patch_tokens.transpose(1, 2).reshape(b, d, h, w)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Softmax Dice loss over the whole batch (eva: ``DiceLoss(softmax=True, batch=True)``).

    logits (B, C, H, W), target (B, H, W) long -> 1 − mean over classes of batch Dice.
    """
    prob = logits.softmax(dim=1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(prob.dtype)
    dims = (0, 2, 3)
    inter = (prob * onehot).sum(dims)
    denom = prob.sum(dims) + onehot.sum(dims)
    return 1.0 - ((2 * inter + eps) / (denom + eps)).mean()
