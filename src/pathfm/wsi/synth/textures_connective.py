"""Painters of connective tissue: stroma, smooth muscle, adipose.

Each painter takes a :class:`Region` and returns stain amounts ``(h, e)``,
(H, W) float32 over the region's crop.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pathfm.wsi.synth.cells import (
    draw_ellipses, draw_segments, finish_nuclei, jittered_grid, nuclei, random_points,
)
from pathfm.wsi.synth.noise import saturate
from pathfm.wsi.synth.region import Region, gradient_angles


def paint_stroma(
    r: Region, eosin: float = 0.55, spindles_per_1000um2: float = 1.6
) -> tuple[np.ndarray, np.ndarray]:
    """Collagen: wavy pink fibres with thin clefts and sparse spindle nuclei."""
    theta = r.rng.uniform(0, math.pi)
    # A smooth warp of the coordinate along which fibres alternate makes them wavy.
    u = r.projection(theta)
    u += r.noise(70.0) * 22.0
    u += r.noise(18.0) * 6.0
    stripes = np.sin(u * np.float32(2 * math.pi / 9.0))
    # Clefts between bundles: thin, and broken where a second field says so.
    cleft = saturate((stripes - 0.72) * 4.0)
    cleft *= saturate(r.noise(14.0) * 1.2 + 0.2)
    fine = np.sin(u * np.float32(2 * math.pi / 2.6))
    e = fine * 0.05
    e += 1.0
    e -= cleft * 0.75
    e *= r.noise(40.0) * 0.12 + 1.0
    e *= eosin
    h = np.full(r.shape, 0.035, dtype=np.float32)

    nuc = np.zeros(r.shape, dtype=np.float32)
    pts = random_points(r.rng, r.shape, r.per_px2(spindles_per_1000um2), r.mask)
    # Spindle nuclei lie along the fibres: across the gradient of u.
    ang = gradient_angles(stripes, pts) + 90.0
    nuclei(r.rng, nuc, pts, (r.px(5.0), r.px(8.0)), (0.18, 0.3), (1.0, 1.3), ang, 20.0)
    pts = random_points(r.rng, r.shape, r.per_px2(0.35), r.mask)
    nuclei(r.rng, nuc, pts, (r.px(2.5), r.px(3.2)), (0.8, 1.0), (1.3, 1.6))
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.2)
    return h, e


def _fascicles(r: Region, spacing_um: float):
    """Fascicle index map (H, W) int32, the fascicle seeds (N, 2), and a septum map in [0, 1]."""
    # Voronoi of jittered seeds on a 4 µm grid, upsampled: fascicle borders are
    # covered by septa, so their staircase never shows.
    step = r.px(4.0)
    gh, gw = int(r.shape[0] / step) + 2, int(r.shape[1] / step) + 2
    seeds = jittered_grid(r.rng, (gh, gw), spacing_um / 4.0, 0.4)
    if len(seeds) == 0:
        seeds = np.array([[gw / 2, gh / 2]], dtype=np.float32)
    gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    gx += 2.0 * r.rng.standard_normal((gh, gw)).astype(np.float32)
    gy += 2.0 * r.rng.standard_normal((gh, gw)).astype(np.float32)
    gx = cv2.GaussianBlur(gx, (0, 0), 2.0)
    gy = cv2.GaussianBlur(gy, (0, 0), 2.0)
    best = np.full((gh, gw), np.inf, dtype=np.float32)
    idx = np.zeros((gh, gw), dtype=np.int32)
    for i, (sx, sy) in enumerate(seeds):
        d = (gx - sx) ** 2 + (gy - sy) ** 2
        closer = d < best
        idx[closer] = i
        np.minimum(best, d, out=best)
    edge = np.zeros((gh, gw), dtype=np.float32)
    edge[:, 1:] += idx[:, 1:] != idx[:, :-1]
    edge[1:, :] += idx[1:, :] != idx[:-1, :]
    edge = np.minimum(cv2.GaussianBlur(edge, (0, 0), 0.7) * 2.0, 1.0)
    size = (r.shape[1], r.shape[0])
    full_idx = cv2.resize(idx, size, interpolation=cv2.INTER_NEAREST)
    septa = cv2.resize(edge, size, interpolation=cv2.INTER_LINEAR)
    return full_idx, seeds * step, septa


def paint_smooth_muscle(r: Region) -> tuple[np.ndarray, np.ndarray]:
    """Smooth muscle: fascicles of long pink fibres with blunt cigar nuclei,
    some cut across (round pink profiles), separated by pale septa."""
    fidx, seeds, septa = _fascicles(r, 170.0)
    n = len(seeds)
    angles = r.rng.uniform(0, math.pi, n)
    across = r.rng.random(n) < 0.3
    c = np.cos(angles).astype(np.float32)[fidx]
    s = np.sin(angles).astype(np.float32)[fidx]
    h_, w_ = r.shape
    xs = np.arange(w_, dtype=np.float32) / r.px_per_um
    ys = np.arange(h_, dtype=np.float32) / r.px_per_um
    u = xs[None, :] * c
    u += ys[:, None] * s
    u += r.noise(60.0) * 3.0
    fib = np.sin(u * np.float32(2 * math.pi / 7.0))
    fib += r.noise(5.0) * 0.5
    e = saturate(fib * 1.2 + 1.3)
    e *= 0.35
    e += 0.45
    # Fascicles cut across: packed round fibre profiles instead of stripes.
    cross = across[fidx]
    if cross.any():
        prof = np.zeros(r.shape, dtype=np.float32)
        pts = jittered_grid(r.rng, r.shape, r.px(7.0), 0.2, 1.0, cross)
        rad = r.rng.uniform(r.px(2.8), r.px(3.4), len(pts))
        draw_ellipses(prof, pts, np.stack([rad, rad * 0.85], 1), r.rng.uniform(0, 180, len(pts)),
                      np.ones(len(pts)))
        prof = cv2.GaussianBlur(prof, (0, 0), r.px(0.5))
        np.copyto(e, 0.3 + 0.5 * prof, where=cross)
    e *= 1.0 + 0.1 * r.noise(30.0)
    e *= 1.0 - 0.55 * septa
    h = np.full(r.shape, 0.07, dtype=np.float32)

    nuc = np.zeros(r.shape, dtype=np.float32)
    pts = random_points(r.rng, r.shape, r.per_px2(3.5), r.mask)
    along = ~cross[pts[:, 1].astype(np.intp), pts[:, 0].astype(np.intp)]
    p = pts[along]
    k = fidx[p[:, 1].astype(np.intp), p[:, 0].astype(np.intp)]
    half = r.rng.uniform(r.px(4.0), r.px(7.5), len(p))
    jit = r.rng.normal(0, 0.08, len(p))
    dx = -np.sin(angles[k] + jit) * half
    dy = np.cos(angles[k] + jit) * half
    d = np.stack([dx, dy], 1).astype(np.float32)
    draw_segments(nuc, p - d, p + d, r.rng.uniform(r.px(2.4), r.px(3.2), len(p)),
                  r.rng.uniform(0.95, 1.25, len(p)))
    q = pts[~along]
    nuclei(r.rng, nuc, q, (r.px(1.6), r.px(2.2)), (0.8, 1.0), (1.0, 1.3))
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.15)
    return h, e


def paint_adipose(r: Region) -> tuple[np.ndarray, np.ndarray]:
    """Adipose: large empty polygonal cells outlined by thin pink membranes."""
    spacing = r.px(72.0)
    pad = int(spacing * 1.5)
    h_, w_ = r.shape
    pts = jittered_grid(r.rng, (h_ + 2 * pad, w_ + 2 * pad), spacing, 0.32) - pad
    memb = np.zeros(r.shape, dtype=np.uint8)
    if len(pts) >= 2:
        sub = cv2.Subdiv2D((-pad - 1, -pad - 1, w_ + 2 * pad + 2, h_ + 2 * pad + 2))
        sub.insert([(float(x), float(y)) for x, y in pts])
        facets, _ = sub.getVoronoiFacetList([])
        polys = [np.round(f * 16).astype(np.int32) for f in facets]
        thick = max(1, int(round(r.px(1.4))))
        cv2.polylines(memb, polys, True, 255, thick, cv2.LINE_AA, 4)
    # Adipocytes cut at the lobule's edge are still closed by their own membranes,
    # so fat has a pink outline where it meets glass or other tissue.
    k = max(2, int(round(r.px(1.4))) + 1)
    outline = cv2.morphologyEx(r.mask.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((k, k), np.uint8))
    memb[outline > 0] = 255
    m = memb.astype(np.float32) * np.float32(1 / 255)
    e = m * (0.5 * (1.0 + 0.25 * r.noise(20.0)))
    e += 0.012
    h = m * 0.06
    # Flattened nuclei pressed against a few membranes.
    nuc = np.zeros(r.shape, dtype=np.float32)
    ys, xs = np.nonzero(memb[:: 8, :: 8] > 128)
    if len(xs):
        pick = r.rng.random(len(xs)) < r.per_px2(0.12) * 64
        p = np.stack([xs[pick] * 8, ys[pick] * 8], 1).astype(np.float32)
        nuclei(r.rng, nuc, p, (r.px(3.0), r.px(4.5)), (0.3, 0.45), (0.9, 1.2),
               gradient_angles(cv2.GaussianBlur(m, (0, 0), 3.0), p) + 90.0, 10.0)
    h += finish_nuclei(r.rng, nuc, r.px_per_um, 0.1)
    return h, e
