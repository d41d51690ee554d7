"""Random fields and coordinate helpers shared by the layout, textures and artefacts.

All fields are float32. "Scale" is the feature size in pixels of the output.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def value_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """(H, W) float32 smooth noise, mean ~0, std ~1, features about ``scale`` px wide.

    White noise on a grid of spacing ``scale``, smoothed a little so the grid
    does not show, then cubic-upsampled: cheap enough for level-0 crops.
    """
    h, w = shape
    scale = max(float(scale), 1.0)
    gh = int(math.ceil(h / scale)) + 1
    gw = int(math.ceil(w / scale)) + 1
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    grid = cv2.GaussianBlur(grid, (0, 0), 0.6, borderType=cv2.BORDER_REFLECT)
    # Blurring white noise with sigma 0.6 leaves std ~0.5; undo it.
    grid *= 2.0
    if scale == 1.0:
        return np.ascontiguousarray(grid[:h, :w])
    # Stretching the grid onto exactly (w, h) keeps features ~scale px wide and
    # avoids a crop copy, the slowest part at level-0 sizes.
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def saturate(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] in place and return ``x``."""
    return np.clip(x, 0.0, 1.0, out=x)


def sample_field(
    field: np.ndarray,
    cell: float,
    y0: int,
    x0: int,
    shape: tuple[int, int],
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """Sample a coarse field on a level-0 crop.

    Args:
        field: (h, w) float32 field whose pixel (i, j) is centred at level-0
            position ((j + 0.5) * cell, (i + 0.5) * cell) in level-0 px.
        cell: size of one field pixel in level-0 px (coarse µm / level-0 mpp).
        y0, x0: top-left of the crop in level-0 px.
        shape: (H, W) of the crop.

    Returns:
        (H, W) float32, values interpolated at level-0 pixel centres; the
        field is clamped at its edges.
    """
    s = 1.0 / cell
    # dst pixel (x, y) reads src ((x0 + x + 0.5) / cell - 0.5, ...)
    m = np.array(
        [[s, 0.0, (x0 + 0.5) * s - 0.5], [0.0, s, (y0 + 0.5) * s - 0.5]],
        dtype=np.float64,
    )
    return cv2.warpAffine(
        field, m, (shape[1], shape[0]),
        flags=interpolation | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def stream(seed: int, *keys: int) -> np.random.Generator:
    """A generator for one named part of a slide, independent of the others.

    Keeping streams apart means switching artefacts off, say, leaves the
    tissue of the same seed unchanged.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, keys)]))
