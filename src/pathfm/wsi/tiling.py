"""A tile grid at an exact target mpp, filtered by the tissue fraction of each tile."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from pathfm.params import from_dict
from pathfm.wsi.slide import grid_count, physical_tile_px


@dataclass(frozen=True)
class TilingParams:
    mpp: float = 0.5  # µm/px of the tiles
    tile_px: int = 224  # tile edge in pixels at ``mpp``
    stride_px: int = 224  # grid step in pixels at ``mpp``; < tile_px gives overlap
    min_tissue: float = 0.5  # minimum fraction of the tile covered by the tissue mask
    pixels: bool = False  # also store the tile pixels (uint8) in the tile store

    @classmethod
    def from_dict(cls, values: dict) -> TilingParams:
        params = from_dict(cls, values, "tiling")
        if params.mpp <= 0 or params.tile_px <= 0 or params.stride_px <= 0:
            raise ValueError(f"tiling mpp, tile_px and stride_px must be positive: {params}")
        if not 0.0 <= params.min_tissue <= 1.0:
            raise ValueError(f"min_tissue must be in [0, 1], got {params.min_tissue}")
        return params

    @property
    def name(self) -> str:
        return f"mpp{self.mpp:.2f}_px{self.tile_px}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TileGrid:
    coords_px: np.ndarray  # (N, 2) int64, level-0 top-left (x, y)
    tissue_fraction: np.ndarray  # (N,) float32
    tile_l0: float  # tile edge in level-0 pixels
    n_candidates: int  # grid positions before the tissue filter


def tissue_fraction_boxes(mask: np.ndarray, mask_scale: float, x0: np.ndarray, y0: np.ndarray,
                          size_l0: float) -> np.ndarray:
    """Fraction of each level-0 box [x0, x0+size) × [y0, y0+size) covered by ``mask``.

    ``mask_scale`` is level-0 pixels per mask pixel. Mask pixels are treated as
    area elements: boxes are clipped to fractional pixel boundaries through an
    integral image evaluated with bilinear interpolation, so a tile of 14.3 mask
    pixels is measured as 14.3, not 14.
    """
    h, w = mask.shape
    integral = np.zeros((h + 1, w + 1), dtype=np.float64)
    integral[1:, 1:] = np.cumsum(np.cumsum(mask.astype(np.float64), axis=0), axis=1)

    def area_to(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        xs = np.clip(xs, 0, w)
        ys = np.clip(ys, 0, h)
        xi = np.minimum(np.floor(xs).astype(int), w - 1)
        yi = np.minimum(np.floor(ys).astype(int), h - 1)
        fx, fy = xs - xi, ys - yi
        i00 = integral[yi, xi]
        i01 = integral[yi, xi + 1]
        i10 = integral[yi + 1, xi]
        i11 = integral[yi + 1, xi + 1]
        return (i00 * (1 - fx) * (1 - fy) + i01 * fx * (1 - fy) + i10 * (1 - fx) * fy
                + i11 * fx * fy)

    x1, y1 = x0 / mask_scale, y0 / mask_scale
    x2, y2 = (x0 + size_l0) / mask_scale, (y0 + size_l0) / mask_scale
    covered = area_to(x2, y2) - area_to(x1, y2) - area_to(x2, y1) + area_to(x1, y1)
    return (covered / ((x2 - x1) * (y2 - y1))).astype(np.float32)


def tile_grid(slide_dims: tuple[int, int], slide_mpp: float, mask: np.ndarray, mask_mpp: float,
              params: TilingParams) -> TileGrid:
    """Regular grid over the whole slide at ``params.mpp``; keep tiles with enough tissue.

    Positions are computed in level-0 floating point (stride × target/slide mpp)
    and rounded once, so rounding never accumulates along a row.
    """
    tile_l0 = physical_tile_px(params.tile_px, params.mpp, slide_mpp)
    stride_l0 = physical_tile_px(params.stride_px, params.mpp, slide_mpp)
    nx = grid_count(slide_dims[0], tile_l0, stride_l0)
    ny = grid_count(slide_dims[1], tile_l0, stride_l0)
    gx, gy = np.meshgrid(np.arange(nx) * stride_l0, np.arange(ny) * stride_l0)
    xs, ys = gx.ravel(), gy.ravel()
    frac = tissue_fraction_boxes(mask, mask_mpp / slide_mpp, xs, ys, tile_l0)
    keep = frac >= params.min_tissue if params.min_tissue > 0 else frac >= 0
    coords = np.stack([np.round(xs[keep]), np.round(ys[keep])], axis=1).astype(np.int64)
    return TileGrid(coords, frac[keep], tile_l0, nx * ny)
