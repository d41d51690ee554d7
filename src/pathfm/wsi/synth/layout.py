"""Tissue layout: where tissue lies on the glass and which tissue type is where.

The layout is a deterministic function of (seed, params, mpp) and knows nothing
of colour, so one layout can be painted and rendered under many stainings and
scanners. It works on three grids over the same physical area:

- coarse (``COARSE_UM`` µm/px): smooth random fields (tissue outline, type scores);
- fine (``FINE_UM`` µm/px): tissue-type map and its connected regions;
- level 0 (``mpp`` µm/px): the tissue mask and label map the slide is painted from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pathfm.wsi.synth.legend import BACKGROUND, code_of
from pathfm.wsi.synth.noise import sample_field, value_noise
from pathfm.wsi.synth.params import SynthParams

COARSE_UM = 4.0
FINE_UM = 1.0
_STRIPE = 1024  # level-0 rows processed at once, to bound memory


@dataclass(frozen=True)
class Segment:
    """One connected region of one tissue type.

    Attributes:
        index: its id in ``Layout.fine_segments`` (>= 1).
        code: legend code of its tissue type.
        bbox: (y0, x0, y1, x1) level-0 px, end-exclusive.
    """

    index: int
    code: int
    bbox: tuple[int, int, int, int]


@dataclass
class Layout:
    """Geometry of one synthetic slide.

    Attributes:
        mpp: level-0 µm per pixel.
        shape: level-0 (height, width) in px.
        tissue_field: (hc, wc) float32 on the coarse grid; > 0 inside tissue.
        fine_segments: (hf, wf) int32 on the fine grid; segment index, 0 outside.
        segments: every segment, index order.
        tissue: (H, W) bool level-0 tissue mask.
        labels: (H, W) uint8 level-0 legend codes (0 = background).
        rows, cols: level-0 row/column -> fine-grid row/column (int32, len H / W).
    """

    mpp: float
    shape: tuple[int, int]
    tissue_field: np.ndarray
    fine_segments: np.ndarray
    segments: list[Segment]
    tissue: np.ndarray
    labels: np.ndarray
    rows: np.ndarray
    cols: np.ndarray

    @property
    def coarse_cell_px(self) -> float:
        """Size of a coarse-grid pixel in level-0 px."""
        return COARSE_UM / self.mpp

    def segment_mask(self, seg: Segment) -> np.ndarray:
        """(h, w) bool level-0 mask of ``seg`` inside its bbox."""
        y0, x0, y1, x1 = seg.bbox
        sub = self.fine_segments[self.rows[y0:y1]][:, self.cols[x0:x1]] == seg.index
        sub &= self.tissue[y0:y1, x0:x1]
        return sub


def level0_shape(params: SynthParams, mpp: float) -> tuple[int, int]:
    """Level-0 (height, width) px: the physical size at ``mpp``, rounded to a
    multiple of the largest downsample so every pyramid level is exact."""
    d = max(params.downsamples)
    h = max(d, int(round(params.height_um / mpp / d)) * d)
    w = max(d, int(round(params.width_um / mpp / d)) * d)
    return h, w


def _grid_um(shape: tuple[int, int], cell_um: float) -> tuple[np.ndarray, np.ndarray]:
    ys = (np.arange(shape[0], dtype=np.float32) + 0.5) * cell_um
    xs = (np.arange(shape[1], dtype=np.float32) + 0.5) * cell_um
    return ys[:, None], xs[None, :]


def _blob_field(rng, ys, xs, cy, cx, a, b, angle, ripple: float) -> np.ndarray:
    """1 at the centre, 0 on a rippled ellipse outline, negative outside (coarse grid)."""
    c, s = math.cos(angle), math.sin(angle)
    u = ((xs - cx) * c + (ys - cy) * s) / a
    v = (-(xs - cx) * s + (ys - cy) * c) / b
    rho = np.sqrt(u * u + v * v)
    phi = np.arctan2(v, u)
    r = np.ones_like(phi)
    for k in range(2, 6):
        r += rng.uniform(0, ripple / (k - 1)) * np.cos(k * phi + rng.uniform(0, 2 * math.pi))
    return (1.0 - rho / np.maximum(r, 0.3)).astype(np.float32)


def _tissue_field(rng, params: SynthParams, cshape) -> np.ndarray:
    """(hc, wc) float32 coarse field, > 0 on tissue: a few rippled blobs with holes."""
    ys, xs = _grid_um(cshape, COARSE_UM)
    W, H = params.width_um, params.height_um
    n = int(params.n_pieces)
    areas = rng.dirichlet(np.full(n, 4.0)) * params.tissue_fraction * W * H
    field = np.full(cshape, -1.0, dtype=np.float32)
    placed: list[tuple[float, float, float]] = []
    margin = 0.04 * min(W, H)
    for area in areas:
        q = rng.uniform(0.55, 1.0)
        a = math.sqrt(area / (math.pi * q))
        b = q * a
        angle = rng.uniform(0, math.pi)
        reach = 1.15 * a
        # Best of a few random centres: far from the pieces already placed.
        best, best_score = None, -math.inf
        for _ in range(24):
            cx = rng.uniform(min(margin + reach, W / 2), max(W - margin - reach, W / 2))
            cy = rng.uniform(min(margin + reach, H / 2), max(H - margin - reach, H / 2))
            score = min(
                (math.hypot(cx - px, cy - py) / (reach + pr) for px, py, pr in placed),
                default=1.0,
            )
            if score > best_score:
                best, best_score = (cx, cy), score
        cx, cy = best
        placed.append((cx, cy, reach))
        piece = _blob_field(rng, ys, xs, cy, cx, a, b, angle, ripple=0.22)
        # Holes: tears and vessel lumens inside the piece.
        for _ in range(int(rng.integers(0, 3))):
            rr = rng.uniform(0.0, 0.55)
            t = rng.uniform(0, 2 * math.pi)
            hx = cx + rr * a * math.cos(t) * math.cos(angle) - rr * b * math.sin(t) * math.sin(angle)
            hy = cy + rr * a * math.cos(t) * math.sin(angle) + rr * b * math.sin(t) * math.cos(angle)
            hr = rng.uniform(0.05, 0.13) * a
            hole = _blob_field(rng, ys, xs, hy, hx, hr, hr * rng.uniform(0.5, 1.0),
                               rng.uniform(0, math.pi), ripple=0.3)
            np.minimum(piece, -hole, out=piece)
        np.maximum(field, piece, out=field)
    # Ragged outlines at two scales, in units of the field (~ piece radius).
    field += 0.05 * value_noise(rng, cshape, 60.0 / COARSE_UM)
    field += 0.02 * value_noise(rng, cshape, 16.0 / COARSE_UM)
    edge = np.minimum(np.minimum(xs, W - xs), np.minimum(ys, H - ys)) - 0.5 * margin
    np.minimum(field, edge / 200.0, out=field)
    return field


def _spread_points(rng, ys: np.ndarray, xs: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` points among (ys, xs) spread apart (greedy farthest-point)."""
    first = int(rng.integers(len(xs)))
    chosen = [first]
    d = (ys - ys[first]) ** 2 + (xs - xs[first]) ** 2
    for _ in range(k - 1):
        nxt = int(np.argmax(d + rng.random(len(d))))
        chosen.append(nxt)
        np.minimum(d, (ys - ys[nxt]) ** 2 + (xs - xs[nxt]) ** 2, out=d)
    return np.array(chosen)


def _type_scores(rng, params: SynthParams, cshape, tissue: np.ndarray):
    """Per-type coarse score fields whose argmax over tissue matches the mix.

    Each type gets smooth noise plus a bump centred on its own spot of tissue
    (spots spread apart), so every type can win somewhere even on a small
    slide; per-type offsets are then tuned until areas match the weights.
    """
    codes = [code_of(n) for n in params.tissue_mix]
    weights = np.array(list(params.tissue_mix.values()), dtype=np.float64)
    weights /= weights.sum()
    scale = params.region_scale_um / COARSE_UM
    scores = np.stack([value_noise(rng, cshape, scale) for _ in codes])
    ty, tx = np.nonzero(tissue)
    if len(tx) == 0:
        return codes, scores
    spots = _spread_points(rng, ty.astype(np.float64), tx.astype(np.float64), len(codes))
    gy = np.arange(cshape[0], dtype=np.float32)[:, None]
    gx = np.arange(cshape[1], dtype=np.float32)[None, :]
    sigma2 = 2 * (0.35 * scale) ** 2
    for k, i in enumerate(spots):
        scores[k] += 1.5 * np.exp(-((gy - ty[i]) ** 2 + (gx - tx[i]) ** 2) / sigma2)
    inside = scores[:, ty, tx]
    bias = np.zeros(len(codes), dtype=np.float64)
    step = 0.3
    for _ in range(120):
        arg = np.argmax(inside + bias[:, None].astype(np.float32), axis=0)
        frac = np.bincount(arg, minlength=len(codes)) / arg.size
        bias += step * np.log(weights / np.maximum(frac, 0.2 * weights))
        step *= 0.97
    scores += bias.astype(np.float32)[:, None, None]
    return codes, scores


def make_layout(params: SynthParams, mpp: float, rng: np.random.Generator) -> Layout:
    """The tissue layout of one slide: tissue pieces and tissue-type regions.

    Args:
        params: slide parameters (size, pieces, tissue mix, region scale).
        mpp: level-0 µm per pixel.
        rng: the layout's own random stream.
    """
    shape = level0_shape(params, mpp)
    H, W = shape
    h_um, w_um = H * mpp, W * mpp
    cshape = (int(math.ceil(h_um / COARSE_UM)), int(math.ceil(w_um / COARSE_UM)))
    fshape = (int(math.ceil(h_um / FINE_UM)), int(math.ceil(w_um / FINE_UM)))
    tfield = _tissue_field(rng, params, cshape)
    codes, scores = _type_scores(rng, params, cshape, tfield > 0)

    # Type map on the fine grid: argmax of the upsampled scores, so region
    # borders are smooth curves rather than coarse-pixel staircases.
    ratio = COARSE_UM / FINE_UM
    best = None
    fine_types = np.zeros(fshape, dtype=np.uint8)
    for code, score in zip(codes, scores):
        up = sample_field(score, ratio, 0, 0, fshape)
        if best is None:
            best = up
            fine_types[:] = code
        else:
            better = up > best
            fine_types[better] = code
            np.maximum(best, up, out=best)
    fine_tissue = sample_field(tfield, ratio, 0, 0, fshape) > 0
    fine_tissue = cv2.dilate(fine_tissue.view(np.uint8), np.ones((3, 3), np.uint8)) > 0

    fine_segments = np.zeros(fshape, dtype=np.int32)
    boxes: list[tuple[int, int, int, int, int]] = []  # code, fy0, fx0, fy1, fx1
    for code in codes:
        mask = (fine_types == code) & fine_tissue
        n, cc, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
        if n <= 1:
            continue
        offset = len(boxes)
        np.copyto(fine_segments, cc + offset, where=mask)
        for x, y, w, h, _area in stats[1:]:
            boxes.append((code, y, x, y + h, x + w))

    rows = np.minimum(((np.arange(H) + 0.5) * mpp / FINE_UM).astype(np.int32), fshape[0] - 1)
    cols = np.minimum(((np.arange(W) + 0.5) * mpp / FINE_UM).astype(np.int32), fshape[1] - 1)
    tissue = np.empty(shape, dtype=bool)
    labels = np.empty(shape, dtype=np.uint8)
    cell = COARSE_UM / mpp
    for y0 in range(0, H, _STRIPE):
        y1 = min(H, y0 + _STRIPE)
        t = sample_field(tfield, cell, y0, 0, (y1 - y0, W)) > 0
        r = rows[y0:y1]
        t &= fine_segments[r][:, cols] > 0
        tissue[y0:y1] = t
        labels[y0:y1] = np.where(t, fine_types[r][:, cols], BACKGROUND)

    segments = []
    for i, (code, fy0, fx0, fy1, fx1) in enumerate(boxes):
        # Level-0 rows whose fine row lies in [fy0, fy1): rows is monotonic.
        y0, y1 = np.searchsorted(rows, [fy0, fy1])
        x0, x1 = np.searchsorted(cols, [fx0, fx1])
        if y1 > y0 and x1 > x0:
            segments.append(Segment(i + 1, code, (int(y0), int(x0), int(y1), int(x1))))
    return Layout(mpp, shape, tfield, fine_segments, segments, tissue, labels, rows, cols)
