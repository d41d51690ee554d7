"""Render a slide's content under a staining and a scanner to level-0 RGB."""

from __future__ import annotations

import numpy as np

from pathfm.wsi.synth.noise import sample_field, stream
from pathfm.wsi.synth.scanner import (
    NOISE_TILE, ScannerParams, apply_sensor, blur_halo, illumination_field, noise_rows,
)
from pathfm.wsi.synth.stain import StainParams, od_to_rgb, optical_density
from pathfm.wsi.synth.tissue import SynthTissue

STREAM_SCANNER = 4
_STRIPE = NOISE_TILE[0]  # so every stripe starts at the noise tile's first row


def render(
    tissue: SynthTissue,
    stain: StainParams | None = None,
    scanner: ScannerParams | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Level-0 RGB of ``tissue`` stained by ``stain`` and scanned by ``scanner``.

    The same tissue rendered under different stains/scanners stays pixel-aligned,
    which is what a PLISM-like set needs.

    Args:
        tissue: from :func:`synthesize_tissue`.
        stain, scanner: defaults when None.
        seed: seeds the scanner's illumination and noise; the tissue's seed when None.

    Returns:
        (H, W, 3) uint8.
    """
    stain = stain or StainParams()
    scanner = scanner or ScannerParams()
    seed = tissue.seed if seed is None else seed
    rng = stream(seed, STREAM_SCANNER)
    layout = tissue.layout
    H, W = layout.shape
    light0 = illumination_field(rng, layout.tissue_field.shape, scanner)
    noise = noise_rows(rng, scanner.noise_std, W)
    halo = blur_halo(scanner, layout.mpp)
    out = np.empty((H, W, 3), dtype=np.uint8)
    for y0 in range(0, H, _STRIPE):
        y1 = min(H, y0 + _STRIPE)
        ya, yb = max(0, y0 - halo), min(H, y1 + halo)
        od = optical_density(tissue.h[ya:yb], tissue.e[ya:yb], stain)
        for ov in tissue.overlays:
            oh, ow = ov.density.shape
            a, b = max(ya, ov.y0), min(yb, ov.y0 + oh)
            if a >= b:
                continue
            d = ov.density[a - ov.y0:b - ov.y0]
            od[a - ya:b - ya, ov.x0:ov.x0 + ow] += d[..., None] * np.asarray(ov.od, np.float32)
        lamp = sample_field(light0, layout.coarse_cell_px, ya, 0, (yb - ya, W))
        light = od_to_rgb(od, lamp[..., None])
        out[y0:y1] = apply_sensor(light, scanner, layout.mpp, noise, y0 - ya, yb - y1)
    return out
