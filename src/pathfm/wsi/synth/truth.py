"""Ground-truth maps of a synthetic slide at a coarse, fixed mpp."""

from __future__ import annotations

import numpy as np

from pathfm.wsi.synth.layout import Layout
from pathfm.wsi.synth.legend import BACKGROUND, LEGEND

_STRIPE = 1024


def truth_shape(layout: Layout, truth_mpp: float) -> tuple[int, int]:
    """(height, width) of the truth maps: the slide's physical size at ``truth_mpp``, rounded."""
    H, W = layout.shape
    return (max(1, round(H * layout.mpp / truth_mpp)), max(1, round(W * layout.mpp / truth_mpp)))


def truth_maps(layout: Layout, truth_mpp: float) -> tuple[np.ndarray, np.ndarray]:
    """Tissue mask and tissue-type map at ``truth_mpp``.

    Truth pixel (i, j) gathers the level-0 pixels whose centres fall in it:
    ``j = floor((x + 0.5) * sx)`` with ``sx = truth_width / level0_width``
    (likewise i, y). It is tissue when at least half of them are, and its type
    is their most frequent tissue type (ties: the lower code).

    Returns:
        ``(mask, types)``: (h, w) uint8, mask 0/255, types legend codes
        (0 wherever mask is 0).
    """
    h, w = truth_shape(layout, truth_mpp)
    H, W = layout.shape
    k = len(LEGEND)
    ty = np.minimum(((np.arange(H) + 0.5) * (h / H)).astype(np.int64), h - 1)
    tx = np.minimum(((np.arange(W) + 0.5) * (w / W)).astype(np.int64), w - 1)
    counts = np.zeros(h * w * k, dtype=np.int64)
    # One histogram over (truth pixel, code) pairs: a single pass over level 0.
    for y0 in range(0, H, _STRIPE):
        y1 = min(H, y0 + _STRIPE)
        idx = (ty[y0:y1, None] * w + tx[None, :]) * k
        idx += layout.labels[y0:y1]
        counts += np.bincount(idx.ravel(), minlength=counts.size)
    counts = counts.reshape(h, w, k)
    total = counts.sum(axis=2)
    tissue = total - counts[..., BACKGROUND]
    mask = np.where(2 * tissue >= np.maximum(total, 1), 255, 0).astype(np.uint8)
    mask[total == 0] = 0
    types = (np.argmax(counts[..., 1:], axis=2) + 1).astype(np.uint8)
    types[mask == 0] = BACKGROUND
    return mask, types
