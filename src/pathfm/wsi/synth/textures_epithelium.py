"""Painters of glandular epithelium: tumour (adenocarcinoma) and normal mucosa.

Each painter takes a :class:`Region` and returns stain amounts ``(h, e)``,
(H, W) float32 over the region's crop.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pathfm.wsi.synth.cells import (
    draw_ellipses, finish_nuclei, jittered_grid, nuclei, random_points,
)
from pathfm.wsi.synth.noise import saturate
from pathfm.wsi.synth.region import Region, gradient_angles
from pathfm.wsi.synth.textures_cells import nuclear_dust
from pathfm.wsi.synth.textures_connective import paint_stroma


def paint_tumour(r: Region) -> tuple[np.ndarray, np.ndarray]:
    """Adenocarcinoma: irregular, crowded glands and solid nests of large
    pleomorphic hyperchromatic nuclei, dirty necrosis in lumens, desmoplastic
    stroma between."""
    # Level sets of a band-limited field give irregular, branching,
    # cribriform-looking glands.
    g = r.noise(30.0)
    g += r.noise(11.0) * 0.4
    solid = r.noise(140.0) > 0.9
    epi = (g > -0.2) | solid
    lumen = (g > 1.05) & ~solid
    h, e = paint_stroma(r, eosin=0.45, spindles_per_1000um2=2.5)
    np.copyto(e, 0.36 * (1.0 + 0.12 * r.noise(4.0)), where=epi)
    np.copyto(h, np.float32(0.17), where=epi)

    cells = epi & ~lumen & r.mask
    nuc = np.zeros(r.shape, dtype=np.float32)
    pts = jittered_grid(r.rng, r.shape, r.px(8.5), 0.3, 0.95, cells)
    n = len(pts)
    # Nuclei stand perpendicular to the gland border (along the gradient of g);
    # in solid nests they point anywhere.
    ang = gradient_angles(g, pts)
    in_solid = solid[pts[:, 1].astype(np.intp), pts[:, 0].astype(np.intp)]
    ang[in_solid] = r.rng.uniform(0, 180, int(in_solid.sum()))
    major = r.rng.uniform(r.px(3.8), r.px(6.5), n)
    minor = major * r.rng.uniform(0.45, 0.75, n)
    axes = np.stack([major, minor], 1)
    value = r.rng.uniform(1.0, 1.8, n)
    ang += r.rng.uniform(-25, 25, n)
    draw_ellipses(nuc, pts, axes, ang, value)
    # Vesicular chromatin with a nucleolus in some nuclei.
    ves = r.rng.random(n) < 0.4
    draw_ellipses(nuc, pts[ves], axes[ves] * 0.6, ang[ves], value[ves] * 0.6)
    nr = r.rng.uniform(r.px(0.8), r.px(1.2), int(ves.sum()))
    draw_ellipses(nuc, pts[ves], np.stack([nr, nr], 1), np.zeros(len(nr)), np.full(len(nr), 1.7))
    mit = random_points(r.rng, r.shape, r.per_px2(0.15), cells)
    nuclei(r.rng, nuc, mit, (r.px(3.0), r.px(4.0)), (0.3, 0.5), (2.1, 2.4))

    # Dirty necrosis: eosinophilic debris with nuclear dust in some lumens.
    dirty = lumen & (r.noise(12.0) > 0.3)
    np.copyto(e, np.float32(0.02), where=lumen)
    np.copyto(h, np.float32(0.01), where=lumen)
    np.copyto(e, 0.32 + 0.08 * r.noise(4.0), where=dirty)
    np.copyto(h, np.float32(0.12), where=dirty)
    nuclear_dust(r, nuc, 30.0, dirty & r.mask)
    np.copyto(nuc, 0.0, where=lumen & ~dirty)
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.3)
    return h, e


def paint_normal_mucosa(r: Region) -> tuple[np.ndarray, np.ndarray]:
    """Colonic mucosa: regular round crypts (basal nuclei, goblet cells, small
    lumen) in a lamina propria with scattered round cells."""
    hh, ww = r.shape
    e = r.noise(8.0) * 0.05
    e += 0.24
    h = np.full(r.shape, 0.07, dtype=np.float32)
    epi = np.zeros(r.shape, dtype=np.uint8)
    goblet = np.zeros(r.shape, dtype=np.float32)
    lumen = np.zeros(r.shape, dtype=np.uint8)
    nuc = np.zeros(r.shape, dtype=np.float32)

    pad = int(r.px(40.0))
    centres = jittered_grid(r.rng, (hh + 2 * pad, ww + 2 * pad), r.px(66.0), 0.12) - pad
    for cx, cy in centres:
        big = r.px(r.rng.uniform(24.0, 30.0))
        q = r.rng.uniform(0.8, 1.0)
        phi = r.rng.uniform(0, 180)
        lum = r.px(r.rng.uniform(3.5, 6.0))
        centre = np.array([[cx, cy]], dtype=np.float32)
        draw_ellipses(epi, centre, np.array([[big, big * q]]), [phi], [1])
        draw_ellipses(lumen, centre, np.array([[lum, lum * q]]), [phi], [1])
        # Goblet cells between the lumen and the basal nuclei.
        k = int(r.rng.integers(9, 14))
        t = np.linspace(0, 2 * math.pi, k, endpoint=False) + r.rng.uniform(0, 2 * math.pi)
        t += r.rng.uniform(-0.15, 0.15, k)
        rho = r.rng.uniform(lum + r.px(4.5), max(lum + r.px(5.0), big - r.px(9.0)), k)
        pos = np.stack([cx + rho * np.cos(t), cy + q * rho * np.sin(t)], 1).astype(np.float32)
        ga = r.rng.uniform(r.px(3.5), r.px(4.5), k)
        draw_ellipses(goblet, pos, np.stack([ga, ga * 0.75], 1), np.degrees(t), np.ones(k))
        # Basal nuclei along the crypt's outer rim, standing radially.
        m = int(2 * math.pi * big / r.px(4.0))
        t = np.linspace(0, 2 * math.pi, m, endpoint=False) + r.rng.uniform(-0.03, 0.03, m)
        rho = big - r.px(3.4) + r.rng.normal(0, r.px(0.5), m)
        pos = np.stack([cx + rho * np.cos(t), cy + q * rho * np.sin(t)], 1).astype(np.float32)
        nuclei(r.rng, nuc, pos, (r.px(3.2), r.px(4.0)), (0.35, 0.5), (1.0, 1.25),
               np.degrees(t), 12.0)
    epi_m = epi > 0
    np.copyto(e, np.float32(0.30), where=epi_m)
    np.copyto(h, np.float32(0.09), where=epi_m)
    gob = cv2.GaussianBlur(goblet, (0, 0), r.px(0.5))
    e -= gob * 0.25
    h += gob * 0.16
    lum_m = lumen > 0
    np.copyto(e, np.float32(0.02), where=lum_m)
    np.copyto(h, np.float32(0.01), where=lum_m)
    np.copyto(nuc, 0.0, where=lum_m)
    # Lamina propria: lymphocytes and plasma cells between crypts.
    pts = jittered_grid(r.rng, r.shape, r.px(11.0), 0.45, 0.55, ~epi_m & r.mask)
    nuclei(r.rng, nuc, pts, (r.px(2.3), r.px(3.0)), (0.75, 1.0), (1.2, 1.6))
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.2)
    saturate(e)
    return h, e
