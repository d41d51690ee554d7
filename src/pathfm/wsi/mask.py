"""Foreground (tissue) masks computed on a low-resolution read of the slide.

CLAM/eva-style: HSV saturation, median blur, a fixed threshold (or Otsu),
morphological closing, then small objects dropped and small holes filled. Pen
ink is strongly saturated too, so an optional hue filter removes blue/green/black
ink before thresholding. All sizes are physical (µm, µm²) and converted with the
mask's mpp, so the same parameters behave the same on every scanner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from pathfm.params import from_dict


@dataclass(frozen=True)
class MaskParams:
    method: str = "saturation"  # "saturation" (fixed threshold) or "otsu"
    # 2 µm/px, finer than CLAM's usual ~8–16 µm: adipocyte membranes are ~1.5 µm thin
    # and vanish at coarser reads, so fat (tissue by any pathologist's reading) was lost.
    mpp: float = 2.0  # µm/px of the mask raster
    saturation_threshold: int = 8  # 0–255; CLAM's default sthresh
    median_blur_um: float = 4.0  # kernel edge in µm; wider kernels erase the membranes
    close_um: float = 30.0  # closing kernel edge in µm, joins the membrane network of fat
    min_tissue_area_um2: float = 20000.0  # connected tissue smaller than this is dropped
    max_hole_area_um2: float = 20000.0  # holes smaller than this are filled; larger lumens kept
    pen_filter: bool = True
    max_value_for_tissue: int = 250  # near-white pixels are glass, whatever their saturation

    @classmethod
    def from_dict(cls, values: dict) -> MaskParams:
        params = from_dict(cls, values, "mask")
        if params.method not in ("saturation", "otsu"):
            raise ValueError(f"mask method must be 'saturation' or 'otsu', got {params.method!r}")
        return params

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _odd_kernel(size_um: float, mpp: float) -> int:
    k = max(1, int(round(size_um / mpp)))
    return k if k % 2 == 1 else k + 1


def pen_ink(rgb: np.ndarray) -> np.ndarray:
    """Pixels of blue, green or black marker ink (H&E is pink/purple, never these hues)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0].astype(int), hsv[..., 1].astype(int), hsv[..., 2].astype(int)
    # OpenCV hue is 0–179: green ≈ 35–85, blue ≈ 90–125; haematoxylin sits at ≥ 125 (purple).
    coloured = (hue >= 35) & (hue <= 122) & (sat > 60)
    black = (val < 60) & (sat < 90)
    return coloured | black


def compute_mask(rgb: np.ndarray, params: MaskParams) -> np.ndarray:
    """Tissue mask (H×W bool) of an RGB image read at ``params.mpp``."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    sat = cv2.medianBlur(hsv[..., 1], _odd_kernel(params.median_blur_um, params.mpp))
    if params.method == "otsu":
        _, binary = cv2.threshold(sat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        tissue = binary > 0
    else:
        tissue = sat > params.saturation_threshold
    tissue &= hsv[..., 2] <= params.max_value_for_tissue
    if params.pen_filter:
        ink = cv2.dilate(pen_ink(rgb).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        tissue &= ~ink
    k = _odd_kernel(params.close_um, params.mpp)
    tissue = cv2.morphologyEx(tissue.astype(np.uint8), cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    px_area = params.mpp * params.mpp
    tissue = _drop_small(tissue, params.min_tissue_area_um2 / px_area)
    holes = ~tissue & ~_touching_border(~tissue)
    small_holes = holes & ~_drop_small(holes, params.max_hole_area_um2 / px_area)
    return tissue | small_holes


def _drop_small(mask: np.ndarray, min_px: float) -> np.ndarray:
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_px
    keep[0] = False
    return keep[labels]


def _touching_border(mask: np.ndarray) -> np.ndarray:
    """Components of ``mask`` that touch the image border (the glass around the tissue)."""
    labels, _ = ndimage.label(mask)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    border = border[border > 0]
    return np.isin(labels, border)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of equal shape (1.0 when both empty)."""
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
