"""The embedding contract applied to pixels and tokens.

Resizing happens on uint8 images in the DataLoader workers (so only
``input_size``² pixels cross process boundaries); normalisation, the forward
pass and pooling run on the model's device in :func:`embed_batch`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from pathfm.models.contract import EmbeddingContract, pool_tokens

INTERPOLATIONS = ("bicubic", "bilinear", "nearest")


class ContractTransform:
    """(H, W, 3) uint8 image -> (3, S, S) uint8 tensor at the contract's input size.

    ``interpolation`` comes from ``contract.extra['interpolation']`` (default
    bicubic, as timm's eval transforms of the DINO/DINOv2 models); antialiased when
    shrinking so a 224-px tile fed to a 64-px demo model is not aliased.
    """

    def __init__(self, contract: EmbeddingContract):
        self.size = int(contract.input_size)
        self.interpolation = contract.extra.get("interpolation", "bicubic")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation {self.interpolation!r} is not one of {INTERPOLATIONS}")

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)  # (3, H, W)
        if x.shape[1:] == (self.size, self.size):
            return x
        y = F.interpolate(x[None].float(), size=(self.size, self.size), mode=self.interpolation,
                          antialias=self.interpolation != "nearest",
                          align_corners=False if self.interpolation != "nearest" else None)
        return y[0].round_().clamp_(0, 255).to(torch.uint8)


def tokens_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) normalised -> (B, prefix + N, D) final-norm tokens of a timm ViT."""
    return model.forward_features(x)


@torch.inference_mode()
def embed_batch(model: nn.Module, contract: EmbeddingContract, images: torch.Tensor,
                poolings: tuple[str, ...] = (), autocast_dtype: torch.dtype | None = None
                ) -> dict[str, torch.Tensor]:
    """(B, 3, S, S) uint8 on the model's device -> {"features": (B, D'), pooling: ...} in float32.

    ``features`` uses the contract's pooling; each name in ``poolings`` adds the same
    tokens pooled that way (e.g. HEST wants both ``cls`` and ``cls+mean``).
    """
    x = contract.normalize(images.float().div_(255.0))
    with torch.autocast(images.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        tokens = tokens_of(model, x)
    tokens = tokens.float()
    out = {"features": pool_tokens(tokens, contract.pooling, contract.prefix_tokens)}
    for name in poolings:
        out[name] = pool_tokens(tokens, name, contract.prefix_tokens)
    return out
