"""The painting context of one tissue region: its crop, scale and random stream."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pathfm.wsi.synth.noise import value_noise


@dataclass
class Region:
    """A crop of the slide to paint with one tissue type.

    Painters return stain amounts ``(h, e)``, two (H, W) float32 arrays over the
    whole crop; only pixels where ``mask`` is True end up on the slide.

    Attributes:
        code: legend code of the tissue type.
        mask: (H, W) bool, the region's pixels in the crop.
        px_per_um: level-0 pixels per µm (1 / mpp).
        rng: the region's own random stream.
    """

    code: int
    mask: np.ndarray
    px_per_um: float
    rng: np.random.Generator

    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape

    def px(self, um: float) -> float:
        """Length in µm -> px."""
        return um * self.px_per_um

    def noise(self, scale_um: float) -> np.ndarray:
        """(H, W) float32 smooth noise (std ~1) with features ``scale_um`` wide."""
        return value_noise(self.rng, self.shape, scale_um * self.px_per_um)

    def per_px2(self, per_1000_um2: float) -> float:
        """Density per 1000 µm² -> per px²."""
        return per_1000_um2 / 1000.0 / self.px_per_um**2

    def projection(self, angle: float) -> np.ndarray:
        """(H, W) float32 µm along direction ``angle`` (radians): x cos + y sin."""
        h, w = self.shape
        s = 1.0 / self.px_per_um
        xs = np.arange(w, dtype=np.float32) * np.float32(s * math.cos(angle))
        ys = np.arange(h, dtype=np.float32) * np.float32(s * math.sin(angle))
        return ys[:, None] + xs[None, :]


def gradient_angles(field: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N,) degrees of the gradient direction of ``field`` (H, W) at points ``xy`` (N, 2)."""
    h, w = field.shape
    x = np.clip(xy[:, 0].astype(np.intp), 1, max(1, w - 2))
    y = np.clip(xy[:, 1].astype(np.intp), 1, max(1, h - 2))
    x1, y1 = np.minimum(x + 1, w - 1), np.minimum(y + 1, h - 1)
    gx = field[y, x1] - field[y, x - 1]
    gy = field[y1, x] - field[y - 1, x]
    return np.degrees(np.arctan2(gy, gx))
