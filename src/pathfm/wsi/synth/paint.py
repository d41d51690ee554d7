"""Paint a layout: stain amounts of every tissue region, composited on level 0."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pathfm.wsi.synth.layout import COARSE_UM, Layout
from pathfm.wsi.synth.legend import CODES
from pathfm.wsi.synth.noise import sample_field, stream, value_noise
from pathfm.wsi.synth.region import Region
from pathfm.wsi.synth.textures_cells import (
    paint_debris, paint_lymphocytes, paint_mucus, paint_necrosis,
)
from pathfm.wsi.synth.textures_connective import (
    paint_adipose, paint_smooth_muscle, paint_stroma,
)
from pathfm.wsi.synth.textures_epithelium import paint_normal_mucosa, paint_tumour

Painter = Callable[[Region], tuple[np.ndarray, np.ndarray]]

PAINTERS: dict[int, Painter] = {
    CODES["adipose"]: paint_adipose,
    CODES["debris"]: paint_debris,
    CODES["lymphocytes"]: paint_lymphocytes,
    CODES["mucus"]: paint_mucus,
    CODES["smooth_muscle"]: paint_smooth_muscle,
    CODES["normal_mucosa"]: paint_normal_mucosa,
    CODES["stroma"]: paint_stroma,
    CODES["tumour"]: paint_tumour,
    CODES["necrosis"]: paint_necrosis,
}

# Keys of the random streams drawn from a slide's seed.
STREAM_TEXTURE = 2
STREAM_THICKNESS = 5


def paint_layout(layout: Layout, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stain amounts of the whole slide.

    Returns:
        ``(h, e)``: (H, W) float32 level-0 hematoxylin and eosin amounts, 0 on
        background. Section thickness varies smoothly by about ±10 %, which
        scales both.
    """
    H, W = layout.shape
    h = np.zeros((H, W), dtype=np.float32)
    e = np.zeros((H, W), dtype=np.float32)
    rng = stream(seed, STREAM_THICKNESS)
    thickness = 1.0 + 0.1 * value_noise(rng, layout.tissue_field.shape, 300.0 / COARSE_UM)
    for seg in layout.segments:
        mask = layout.segment_mask(seg)
        if not mask.any():
            continue
        y0, x0, y1, x1 = seg.bbox
        region = Region(seg.code, mask, 1.0 / layout.mpp, stream(seed, STREAM_TEXTURE, seg.index))
        sh, se = PAINTERS[seg.code](region)
        t = sample_field(thickness, layout.coarse_cell_px, y0, x0, mask.shape)
        sh *= t
        se *= t
        np.copyto(h[y0:y1, x0:x1], sh, where=mask)
        np.copyto(e[y0:y1, x0:x1], se, where=mask)
    return h, e
