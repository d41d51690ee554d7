"""Predicted peak GPU memory of the inference-side GPU jobs.

- embedding (``pathfm.embed.extract``): the fp32 model, one batch of uint8 images, their
  fp32 normalised copy (and its autocast cast), one block's no-grad working set for the
  batch's tokens, the final tokens and their pooled features;
- segmentation (``pathfm.bench.segmentation``): the frozen backbone's feature maps of 16
  windows at a time in fp32, then the decoder's training step on ``batch_size`` windows
  (eva's ConvDecoder: saved inputs of its convolutions / batch norms at image size);
- PLISM metrics (``pathfm.bench.plism.match_ranks``): a pair of slides' float64 features
  and the ``chunk`` × n similarity blocks (three kept, two temporaries) and their masks.
"""

from __future__ import annotations

from pathfm.memplan.arch import vit_dims
from pathfm.memplan.estimate import Estimate

FP32, FP64 = 4, 8
SEG_WINDOW_BATCH = 16  # pathfm.bench.segmentation.backbone_feature_maps' default


def feature_dim(entry) -> int:
    """Width of the stored embedding: CLS, or CLS + mean of patch tokens."""
    return entry.contract.embed_dim * (2 if "mean" in entry.contract.pooling else 1)


def embed(entry, batch: int, autocast: str) -> Estimate:
    v = vit_dims(entry)
    a = 4 if autocast == "off" else 2   # "auto" is bf16 on CUDA
    s = entry.contract.input_size
    tokens = batch * v.tokens(s)
    pixels = batch * 3 * s * s
    static = {"weights (fp32)": FP32 * v.params}
    # uint8 batch, its fp32 copy scaled in place, the normalised copy, its autocast cast
    phase = {"images": pixels * (1 + 2 * FP32 + (a if a != FP32 else 0)),
             "block no-grad forward": tokens * v.nograd_working_set(a),
             "tokens": tokens * (a + FP32) * v.embed_dim}
    return Estimate(static, {"forward": phase}, batch)


def segmentation(entry, batch: int, n_classes: int = 6) -> Estimate:
    v = vit_dims(entry)
    s = entry.contract.input_size
    grid = (s // v.patch) ** 2
    static = {"weights (fp32)": FP32 * v.params}
    backbone = {"windows": SEG_WINDOW_BATCH * 3 * s * s * FP32,
                "block no-grad forward": SEG_WINDOW_BATCH * v.tokens(s) * v.nograd_working_set(FP32)}
    # Per window: features, the ×2-upsampled map, then at image size the 64-channel stem
    # (+3 image channels), two 32-channel conv-BN-ReLU blocks (conv input, BN input and
    # output each), the logits and their softmax / one-hot for the Dice loss.
    per_window = (FP32 * v.embed_dim * grid * 5
                  + FP32 * s * s * (64 * 2 + 67 + 32 * 3 * 2 + 3 * n_classes))
    decoder = {"decoder step": batch * per_window, "decoder weights+adam": 16 * (
        9 * v.embed_dim * 64 + 9 * 67 * 32 + 9 * 32 * 32 + 32 * n_classes)}
    return Estimate(static, {"backbone features": backbone, "decoder training": decoder}, batch)


def plism(entry, n_tiles: int, chunk: int) -> Estimate:
    d = feature_dim(entry)
    c = min(chunk, n_tiles)
    static = {"pair features (float64)": 2 * n_tiles * (d + 1) * FP64}
    phase = {"similarity blocks": 5 * c * n_tiles * FP64, "block masks": 4 * c * n_tiles,
             "ranks": 4 * n_tiles * FP64}
    return Estimate(static, {"ranks": phase}, c)
