"""Nucleus class masks (CoNSeP/MoNuSAC-like) from the synthetic haematoxylin density.

The synthetic painter draws nuclei as haematoxylin-dense blobs; a pixel is a
nucleus where the haematoxylin amount exceeds a multiple of its local tissue
median (nuclei are markedly darker than the stroma around them), and its class
is the tissue type under it: tumour -> epithelial (malignant), normal mucosa ->
epithelial (healthy), lymphocytes -> inflammatory, stroma / smooth muscle ->
spindle-shaped, anything else -> other.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from pathfm.wsi.synth.legend import CODES

NUCLEUS_CLASSES = ("background", "epithelial_malignant", "epithelial_healthy", "inflammatory",
                   "spindle", "other")
_CLASS_OF_TISSUE = {CODES["tumour"]: 1, CODES["normal_mucosa"]: 2, CODES["lymphocytes"]: 3,
                    CODES["stroma"]: 4, CODES["smooth_muscle"]: 4}


def nuclei_mask(h: np.ndarray, tissue_labels: np.ndarray, ratio: float = 1.8,
                window_px: int = 31, min_area_px: int = 4) -> np.ndarray:
    """(H, W) haematoxylin amount, (H, W) legend codes -> (H, W) uint8 nucleus classes."""
    h = np.asarray(h, dtype=np.float32)
    local = ndimage.median_filter(h, size=window_px)
    nuclei = (h > ratio * np.maximum(local, 1e-3)) & (tissue_labels > 0)
    lab, n = ndimage.label(nuclei)
    if n:
        areas = ndimage.sum(nuclei, lab, index=np.arange(1, n + 1))
        nuclei &= np.isin(lab, np.flatnonzero(areas >= min_area_px) + 1)
    out = np.zeros(h.shape, np.uint8)
    cls = np.full(tissue_labels.shape, 5, np.uint8)
    for code, c in _CLASS_OF_TISSUE.items():
        cls[tissue_labels == code] = c
    out[nuclei] = cls[nuclei]
    return out
