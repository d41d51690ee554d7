"""The embedding contract applied to pixels and tokens.

Resizing happens on uint8 images in the DataLoader workers, a whole batch in
one call (so only ``input_size``² pixels cross process boundaries, as one
tensor); normalisation, the forward pass and pooling run on the model's device
in :func:`embed_batch`.
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
        if image.ndim != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        return self.batch(image[None])[0]

    def batch(self, images: np.ndarray | list[np.ndarray]) -> torch.Tensor:
        """(B, H, W, 3) uint8 array, or a list of (H, W, 3) images of any sizes -> (B, 3, S, S) uint8."""
        if isinstance(images, list):
            if len({im.shape for im in images}) > 1:
                return torch.cat([self.batch(im[None]) for im in images])
            images = np.stack(images) if images else np.zeros((0, self.size, self.size, 3), np.uint8)
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
            raise ValueError(f"expected (B, H, W, 3) uint8 images, got {images.shape} {images.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # (B, 3, H, W)
        if x.shape[2:] == (self.size, self.size):
            return x.contiguous()  # the copy happens here, in the worker, not in the model's process
        # torch's uint8 kernels (channels-last, as the permuted view is): 15× faster than a float
        # round trip on CPU, and within one grey level of it.
        y = F.interpolate(x, size=(self.size, self.size), mode=self.interpolation,
                          antialias=self.interpolation != "nearest",
                          align_corners=False if self.interpolation != "nearest" else None)
        return y.contiguous()


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
