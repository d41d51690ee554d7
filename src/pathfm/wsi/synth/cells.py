"""Cell-scale primitives: placing and drawing nuclei and other small shapes.

Positions and sizes are in level-0 px of a painting region (a crop of the
slide); callers convert from µm with the region's ``px_per_um``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pathfm.wsi.synth.noise import value_noise

# Fixed-point bits for cv2 drawing: sub-pixel centres and axes.
_SHIFT = 4
_ONE = 1 << _SHIFT


def jittered_grid(
    rng: np.random.Generator,
    shape: tuple[int, int],
    spacing: float,
    jitter: float = 0.45,
    keep: float = 1.0,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """(N, 2) float32 (x, y) points on a jittered hexagonal grid inside ``shape``.

    Args:
        spacing: grid spacing in px (the typical distance between neighbours).
        jitter: random displacement as a fraction of ``spacing``.
        keep: fraction of grid points kept (random thinning).
        mask: optional (H, W) bool; points falling where it is False are dropped.
    """
    h, w = shape
    spacing = max(float(spacing), 1.0)
    dy = spacing * math.sqrt(3) / 2
    ny, nx = int(h / dy) + 2, int(w / spacing) + 2
    gy, gx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    x = (gx + 0.5 * (gy % 2)) * spacing
    y = gy * dy
    pts = np.stack([x.ravel(), y.ravel()], axis=1)
    pts += rng.uniform(-jitter, jitter, pts.shape).astype(np.float32) * spacing
    pts = pts[rng.random(len(pts)) < keep]
    return filter_points(pts, shape, mask)


def random_points(
    rng: np.random.Generator, shape: tuple[int, int], density: float,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """(N, 2) float32 (x, y) uniform random points, ``density`` per px², inside ``mask``."""
    h, w = shape
    n = int(rng.poisson(density * h * w))
    pts = np.stack([rng.uniform(0, w, n), rng.uniform(0, h, n)], axis=1).astype(np.float32)
    return filter_points(pts, shape, mask)


def filter_points(pts: np.ndarray, shape, mask: np.ndarray | None) -> np.ndarray:
    """Drop points outside ``shape`` or where ``mask`` is False."""
    h, w = shape
    ok = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    pts = pts[ok]
    if mask is not None and len(pts):
        pts = pts[mask[pts[:, 1].astype(np.intp), pts[:, 0].astype(np.intp)]]
    return pts


def draw_ellipses(
    canvas: np.ndarray,
    xy: np.ndarray,
    axes: np.ndarray,
    angles_deg: np.ndarray,
    values: np.ndarray,
) -> None:
    """Draw filled ellipses into a float32 canvas, later ones on top.

    Args:
        canvas: (H, W) float32, modified in place.
        xy: (N, 2) centres in px.
        axes: (N, 2) semi-axes in px (along the angle, across it).
        angles_deg: (N,) rotation of the first axis, degrees clockwise (image y down).
        values: (N,) value written inside each ellipse.
    """
    c = np.round(xy * _ONE).astype(np.int64)
    a = np.round(np.maximum(axes, 0.5) * _ONE).astype(np.int64)
    for (x, y), (ax, ay), ang, v in zip(c.tolist(), a.tolist(), np.asarray(angles_deg).tolist(),
                                        np.asarray(values).tolist()):
        cv2.ellipse(canvas, (x, y), (ax, ay), ang, 0, 360, v, -1, cv2.LINE_8, _SHIFT)


def draw_segments(
    canvas: np.ndarray, p0: np.ndarray, p1: np.ndarray, widths: np.ndarray, values: np.ndarray
) -> None:
    """Draw thick lines with round caps (cigar shapes) into a float32 canvas.

    Args:
        p0, p1: (N, 2) end points in px; widths: (N,) line widths in px.
    """
    a = np.round(p0 * _ONE).astype(np.int64)
    b = np.round(p1 * _ONE).astype(np.int64)
    for (x0, y0), (x1, y1), wd, v in zip(a.tolist(), b.tolist(), np.asarray(widths).tolist(),
                                         np.asarray(values).tolist()):
        cv2.line(canvas, (x0, y0), (x1, y1), v, max(1, int(round(wd))), cv2.LINE_8, _SHIFT)


def nuclei(
    rng: np.random.Generator,
    canvas: np.ndarray,
    xy: np.ndarray,
    size: tuple[float, float],
    elongation: tuple[float, float],
    value: tuple[float, float],
    angles_deg: np.ndarray | None = None,
    angle_jitter: float = 180.0,
) -> None:
    """Draw nuclei with random size, shape, angle and stain into ``canvas``.

    Args:
        xy: (N, 2) centres px.
        size: (low, high) semi-major axis in px, uniform.
        elongation: (low, high) ratio minor/major, uniform.
        value: (low, high) hematoxylin amount, uniform.
        angles_deg: (N,) preferred orientation; None for random.
        angle_jitter: uniform jitter in degrees around the preferred angle.
    """
    n = len(xy)
    if n == 0:
        return
    major = rng.uniform(*size, n)
    minor = major * rng.uniform(*elongation, n)
    base = np.zeros(n) if angles_deg is None else np.asarray(angles_deg, dtype=float)
    ang = base + rng.uniform(-angle_jitter / 2, angle_jitter / 2, n)
    vals = rng.uniform(*value, n)
    draw_ellipses(canvas, xy, np.stack([major, minor], 1), ang, vals)


def finish_nuclei(
    rng: np.random.Generator, canvas: np.ndarray, px_per_um: float, chromatin: float = 0.25
) -> np.ndarray:
    """Give drawn nuclei a chromatin texture and soft edges; returns the new canvas.

    ``chromatin`` is the relative amplitude of the sub-micron mottling.
    """
    if chromatin > 0:
        canvas *= 1.0 + chromatin * value_noise(rng, canvas.shape, 0.6 * px_per_um)
    return cv2.GaussianBlur(canvas, (0, 0), max(0.3, 0.25 * px_per_um))
