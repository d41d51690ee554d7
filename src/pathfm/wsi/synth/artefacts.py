"""Slide artefacts: a tissue fold, a pen mark and an air bubble.

A fold changes the tissue itself (two layers of section: more stain); pen ink
and a bubble rim lie on the glass, so they are :class:`Overlay` s of extra
optical density that the renderer adds on top. Each artefact is also
described by a record ``{"type", "bbox_level0": [x0, y0, x1, y1], ...}`` in
level-0 px, end-exclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pathfm.wsi.synth.layout import COARSE_UM, Layout
from pathfm.wsi.synth.noise import value_noise

# OD per unit ink in R, G, B: blue ink absorbs red, green ink red and blue.
PEN_INKS: dict[str, tuple[float, float, float]] = {
    "blue": (1.25, 0.62, 0.15),
    "green": (0.95, 0.22, 0.80),
}
BUBBLE_OD = (1.0, 1.0, 0.95)


@dataclass
class Overlay:
    """Absorbing material on the glass over a level-0 crop.

    Attributes:
        y0, x0: top-left of the crop in level-0 px.
        density: (h, w) float32 amount; negative brightens (a bubble's lens).
        od: (3,) optical density per unit amount in R, G, B.
    """

    y0: int
    x0: int
    density: np.ndarray
    od: tuple[float, float, float]


def _record(kind: str, mask: np.ndarray, y0: int, x0: int, **extra) -> dict | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    bbox = [int(x0 + xs.min()), int(y0 + ys.min()), int(x0 + xs.max() + 1), int(y0 + ys.max() + 1)]
    return {"type": kind, "bbox_level0": bbox, **extra}


def _distances(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Coarse-grid µm distance of background pixels to tissue and of tissue pixels to background."""
    t = (layout.tissue_field > 0).astype(np.uint8)
    out = cv2.distanceTransform(1 - t, cv2.DIST_L2, 5) * COARSE_UM
    inside = cv2.distanceTransform(t, cv2.DIST_L2, 5) * COARSE_UM
    return out, inside


def _pick(rng: np.random.Generator, candidates: np.ndarray) -> tuple[float, float] | None:
    """A random candidate pixel of a coarse bool map, as level-0-free (y, x) µm."""
    ys, xs = np.nonzero(candidates)
    if len(xs) == 0:
        return None
    i = int(rng.integers(len(xs)))
    return (ys[i] + 0.5) * COARSE_UM, (xs[i] + 0.5) * COARSE_UM


def add_fold(h: np.ndarray, e: np.ndarray, layout: Layout, rng: np.random.Generator) -> dict | None:
    """Fold a band of tissue near an edge over its neighbour, in place.

    The band's stain amounts become its own plus a slightly blurred mirror image
    of the tissue beside it: darker and more saturated, as two layers are.
    """
    _, inside = _distances(layout)
    p = _pick(rng, (inside > 30) & (inside < 70))
    if p is None:
        p = _pick(rng, inside > 0)
        if p is None:
            return None
    s = 1.0 / layout.mpp
    cy, cx = p[0] * s, p[1] * s
    gy, gx = np.gradient(layout.tissue_field)
    iy, ix = int(p[0] / COARSE_UM), int(p[1] / COARSE_UM)
    n = np.array([gx[iy, ix], gy[iy, ix]], dtype=np.float64)
    n = n / np.linalg.norm(n) if np.linalg.norm(n) > 0 else np.array([1.0, 0.0])
    t = np.array([-n[1], n[0]])
    H, W = layout.shape
    length = min(rng.uniform(250, 450) * s, 0.6 * max(H, W))
    width = rng.uniform(35, 60) * s
    c = np.array([cx, cy])
    # A lens-shaped band: folds taper off at both ends.
    a = np.linspace(-1.0, 1.0, 41)
    half = 0.5 * width * np.sqrt(np.sqrt(np.maximum(1.0 - a * a, 0.0)))
    outer = c + np.outer(a * length / 2, t) - np.outer(half, n)
    inner = c + np.outer(a * length / 2, t) + np.outer(half, n)
    corners = np.vstack([outer, inner[::-1]])
    pad = width + 8 * s
    x0 = int(max(0, math.floor(corners[:, 0].min() - pad)))
    y0 = int(max(0, math.floor(corners[:, 1].min() - pad)))
    x1 = int(min(W, math.ceil(corners[:, 0].max() + pad)))
    y1 = int(min(H, math.ceil(corners[:, 1].max() + pad)))
    if x1 <= x0 or y1 <= y0:
        return None
    band = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillPoly(band, [np.round((corners - [x0, y0]) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    band &= layout.tissue[y0:y1, x0:x1]
    if not band.any():
        return None
    # Reflection across the band's inner edge: the flap lies on the tissue beside it.
    q = c + n * width / 2 - [x0, y0]
    refl = np.eye(2) - 2 * np.outer(n, n)
    m = np.hstack([refl, (2 * (q @ n) * n)[:, None]])
    soft = cv2.GaussianBlur(band.astype(np.float32), (0, 0), 1.5 * s)
    soft *= layout.tissue[y0:y1, x0:x1]
    for arr in (h, e):
        crop = arr[y0:y1, x0:x1]
        flap = cv2.warpAffine(crop, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
        flap = cv2.GaussianBlur(flap, (0, 0), 0.8 * s)
        crop += flap * soft
    return _record("fold", band, y0, x0)


def make_pen(layout: Layout, rng: np.random.Generator) -> tuple[Overlay, dict] | None:
    """A thick blue or green ink stroke following a tissue edge just outside it."""
    out, _ = _distances(layout)
    s = 1.0 / layout.mpp
    H, W = layout.shape
    # Pen strokes are about as wide as a marker tip, shrunk on small test slides.
    span_um = max(H, W) * layout.mpp
    thick_um = rng.uniform(0.6, 1.0) * min(65.0, max(15.0, 0.03 * span_um))
    gap_um = thick_um / 2 + rng.uniform(15, 60)
    zone = (out < gap_um).astype(np.uint8)
    contours, _ = cv2.findContours(zone, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    contour = max(contours, key=len)[:, 0, :].astype(np.float64)
    n = len(contour)
    if n < 8:
        return None
    want = int(rng.uniform(500, 1000) / COARSE_UM)
    k = min(want, int(0.6 * n))
    start = int(rng.integers(n))
    path = contour[(start + np.arange(k)) % n]
    path = cv2.GaussianBlur(path[:, None, :], (1, 0), sigmaX=0, sigmaY=3.0,
                            borderType=cv2.BORDER_REPLICATE)[:, 0, :]
    path = (path + 0.5) * COARSE_UM * s
    # A hand-drawn stroke wobbles a little.
    wob = rng.standard_normal((max(2, k // 40), 2)) * 3.0 * s
    path += cv2.resize(wob, (2, k), interpolation=cv2.INTER_CUBIC)
    thick = thick_um * s
    x0 = int(max(0, math.floor(path[:, 0].min() - thick)))
    y0 = int(max(0, math.floor(path[:, 1].min() - thick)))
    x1 = int(min(W, math.ceil(path[:, 0].max() + thick)))
    y1 = int(min(H, math.ceil(path[:, 1].max() + thick)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    pts = np.round((path - [x0, y0]) * 16).astype(np.int32)
    cv2.polylines(canvas, [pts], False, 255, max(1, int(round(thick))), cv2.LINE_AA, 4)
    ink = canvas.astype(np.float32) * np.float32(1 / 255)
    ink = cv2.GaussianBlur(ink, (0, 0), 2.0 * s)
    ink *= 0.85 + 0.15 * value_noise(rng, ink.shape, 25.0 * s)
    colour = str(rng.choice(sorted(PEN_INKS)))
    rec = _record("pen", ink > 0.05, y0, x0, colour=colour)
    if rec is None:
        return None
    return Overlay(y0, x0, ink, PEN_INKS[colour]), rec


def make_bubble(layout: Layout, rng: np.random.Generator) -> tuple[Overlay, dict] | None:
    """An air bubble under the coverslip, mostly on the glass beside the tissue:
    a circle with a dark refractive rim and a faint inner ring."""
    out, _ = _distances(layout)
    s = 1.0 / layout.mpp
    H, W = layout.shape
    h_um, w_um = H * layout.mpp, W * layout.mpp
    radius_um = min(rng.uniform(70, 160), 0.2 * min(h_um, w_um))
    ys, xs = np.mgrid[0:out.shape[0], 0:out.shape[1]]
    cy_um, cx_um = (ys + 0.5) * COARSE_UM, (xs + 0.5) * COARSE_UM
    inside_slide = ((cx_um > radius_um) & (cx_um < w_um - radius_um)
                    & (cy_um > radius_um) & (cy_um < h_um - radius_um))
    p = _pick(rng, inside_slide & (out > 0.4 * radius_um) & (out < 1.1 * radius_um))
    if p is None:
        p = _pick(rng, inside_slide & (out > 0))
        if p is None:
            return None
    cy, cx = p[0] * s, p[1] * s
    rad = radius_um * s
    x0, y0 = int(max(0, cx - rad - 20 * s)), int(max(0, cy - rad - 20 * s))
    x1, y1 = int(min(W, cx + rad + 20 * s)), int(min(H, cy + rad + 20 * s))
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
    xx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
    r = np.sqrt(xx * xx + yy * yy)
    phi = np.arctan2(yy, xx)
    r_edge = rad * (1.0 + 0.01 * np.cos(2 * phi + rng.uniform(0, 2 * np.pi)))
    d = (r - r_edge) / np.float32(2.5 * s)
    dens = 0.9 * np.exp(-d * d)
    d2 = (r - (r_edge - 7.0 * s)) / np.float32(1.5 * s)
    dens += 0.25 * np.exp(-d2 * d2)
    dens -= 0.02 * (r < r_edge)
    rec = _record("bubble", np.abs(dens) > 0.05, y0, x0)
    if rec is None:
        return None
    return Overlay(y0, x0, dens.astype(np.float32), BUBBLE_OD), rec
