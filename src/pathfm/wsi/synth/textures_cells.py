"""Painters of cellular and acellular material: lymphocytes, mucus, necrosis, debris.

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
from pathfm.wsi.synth.region import Region


def paint_lymphocytes(r: Region) -> tuple[np.ndarray, np.ndarray]:
    """Lymphoid aggregate: packed small round dark nuclei, scant cytoplasm,
    a few pale macrophages."""
    e = r.noise(6.0) * 0.04
    e += 0.16
    h = np.full(r.shape, 0.07, dtype=np.float32)
    nuc = np.zeros(r.shape, dtype=np.float32)
    pts = jittered_grid(r.rng, r.shape, r.px(7.2), 0.4, 0.9, r.mask)
    nuclei(r.rng, nuc, pts, (r.px(2.6), r.px(3.3)), (0.8, 1.0), (1.45, 1.85))
    pts = random_points(r.rng, r.shape, r.per_px2(0.5), r.mask)
    cyto = np.zeros(r.shape, dtype=np.float32)
    rad = r.rng.uniform(r.px(6.0), r.px(8.0), len(pts))
    draw_ellipses(cyto, pts, np.stack([rad, rad * 0.8], 1), r.rng.uniform(0, 180, len(pts)),
                  np.full(len(pts), 0.22))
    np.copyto(nuc, 0.0, where=cyto > 0)
    e += cyto
    nuclei(r.rng, nuc, pts, (r.px(3.5), r.px(4.5)), (0.6, 0.9), (0.55, 0.75))
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.3)
    return h, e


def paint_mucus(r: Region) -> tuple[np.ndarray, np.ndarray]:
    """Extracellular mucin: pale blue-grey wisps with empty spaces and rare floating cells."""
    u = r.projection(r.rng.uniform(0, math.pi))
    u += r.noise(90.0) * 35.0
    u += r.noise(25.0) * 8.0
    wisps = np.sin(u * np.float32(2 * math.pi / 20.0))
    d = r.noise(45.0) * 0.3
    d += wisps * 0.25
    d += r.noise(6.0) * 0.1
    d += 0.72
    d = saturate(d)
    h = d * 0.40
    e = d * 0.05
    nuc = np.zeros(r.shape, dtype=np.float32)
    pts = random_points(r.rng, r.shape, r.per_px2(0.25), r.mask)
    nuclei(r.rng, nuc, pts, (r.px(2.8), r.px(4.0)), (0.6, 1.0), (0.9, 1.3))
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.2)
    return h, e


def nuclear_dust(r: Region, canvas: np.ndarray, per_1000um2: float, where: np.ndarray) -> None:
    """Karyorrhectic fragments: tiny dark dots, clustered."""
    pts = random_points(r.rng, r.shape, r.per_px2(per_1000um2), where)
    rad = r.rng.uniform(r.px(0.5), r.px(1.5), len(pts))
    draw_ellipses(canvas, pts, np.stack([rad, rad * r.rng.uniform(0.6, 1.0, len(pts))], 1),
                  r.rng.uniform(0, 180, len(pts)), r.rng.uniform(1.1, 1.8, len(pts)))


def paint_necrosis(r: Region) -> tuple[np.ndarray, np.ndarray]:
    """Coagulative necrosis: pale eosinophilic smudge with a purple haze,
    ghost cell outlines, nuclear dust and cracks."""
    e = r.noise(14.0) * 0.10
    e += r.noise(3.0) * 0.04
    e += 0.36
    ghosts = np.zeros(r.shape, dtype=np.float32)
    pts = jittered_grid(r.rng, r.shape, r.px(11.0), 0.4, 0.7, r.mask)
    rad = r.rng.uniform(r.px(3.5), r.px(5.0), len(pts))
    draw_ellipses(ghosts, pts, np.stack([rad, rad * 0.8], 1), r.rng.uniform(0, 180, len(pts)),
                  r.rng.uniform(0.05, 0.12, len(pts)))
    e += cv2.GaussianBlur(ghosts, (0, 0), r.px(0.8))
    h = r.noise(25.0) * 0.06
    h += 0.17
    nuc = np.zeros(r.shape, dtype=np.float32)
    cluster = r.noise(30.0) > -0.2
    nuclear_dust(r, nuc, 25.0, cluster & r.mask)
    pts = random_points(r.rng, r.shape, r.per_px2(1.5), r.mask)
    nuclei(r.rng, nuc, pts, (r.px(1.8), r.px(2.8)), (0.7, 1.0), (1.5, 2.0))
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.1)
    crack = saturate((r.noise(30.0) - 1.9) * 3.0)
    crack *= -0.8
    crack += 1.0
    return h * crack, e * crack


def paint_debris(r: Region) -> tuple[np.ndarray, np.ndarray]:
    """Debris: loose fragments of eosinophilic material with nuclear fragments,
    neutrophils and red cells, white spaces between."""
    f = r.noise(12.0)
    f += r.noise(4.0) * 0.45
    frag = saturate((f - 0.1) * 2.5)
    e = frag * 0.42
    e *= 1.0 + 0.2 * r.noise(3.0)
    e += 0.03
    h = frag * 0.14
    h += 0.02
    nuc = np.zeros(r.shape, dtype=np.float32)
    nuclear_dust(r, nuc, 20.0, (frag > 0.3) & r.mask)
    # Neutrophils: pale cytoplasm around three small lobes.
    pts = random_points(r.rng, r.shape, r.per_px2(2.5), r.mask)
    cyto = np.zeros(r.shape, dtype=np.float32)
    rad = r.rng.uniform(r.px(4.5), r.px(5.5), len(pts))
    draw_ellipses(cyto, pts, np.stack([rad, rad], 1), np.zeros(len(pts)), np.full(len(pts), 0.22))
    for _ in range(3):
        t = r.rng.uniform(0, 2 * math.pi, len(pts))
        off = np.stack([np.cos(t), np.sin(t)], 1).astype(np.float32) * r.px(1.8)
        lobe = r.rng.uniform(r.px(1.1), r.px(1.5), len(pts))
        draw_ellipses(nuc, pts + off, np.stack([lobe, lobe * 0.8], 1),
                      np.degrees(t), r.rng.uniform(1.3, 1.6, len(pts)))
    # Red cells: bright eosinophilic discs with a paler centre.
    pts = random_points(r.rng, r.shape, r.per_px2(4.0), r.mask & (frag < 0.5))
    rbc = np.zeros(r.shape, dtype=np.float32)
    rad = r.rng.uniform(r.px(3.2), r.px(3.8), len(pts))
    draw_ellipses(rbc, pts, np.stack([rad, rad * 0.9], 1), r.rng.uniform(0, 180, len(pts)),
                  np.full(len(pts), 0.85))
    draw_ellipses(rbc, pts, np.stack([rad, rad * 0.9], 1) * 0.45, np.zeros(len(pts)),
                  np.full(len(pts), 0.6))
    e += cyto
    e += cv2.GaussianBlur(rbc, (0, 0), r.px(0.4))
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.15)
    return h, e
