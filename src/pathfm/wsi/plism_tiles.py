"""Matched tiles across registered slides: one tissue grid on the reference, read everywhere.

The grid is laid on the reference slide (``tile_px`` tiles at ``target_mpp``).
Each tile centre is mapped through every slide's transform (reference µm →
slide µm, see :mod:`pathfm.wsi.registration`) and read there at the same
physical mpp. Rotation, scale and shear between slides are honoured by a local
affine fitted to the transform at the tile (finite differences over half a
tile), so a tile shows the same tissue in every slide rather than an
axis-aligned box around the mapped centre. A tile is kept only when it is valid
(inside the slide, on tissue) in every slide; its ``tile_id`` (row-major index
on the reference grid) is then identical across the set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import SimpleITK as sitk

from pathfm.version import code_version
from pathfm.wsi.mask import MaskParams, compute_mask
from pathfm.wsi.registration import load_transform, map_points
from pathfm.wsi.slide import Slide, open_slide
from pathfm.wsi.tile_store import write_tile_store

_FOOTPRINT_SAMPLES = 5  # per side: points of a tile checked against the tissue mask


@dataclass(frozen=True)
class MatchedTilingParams:
    """``min_tissue``: tissue fraction a tile needs in *every* slide (sampled on a
    5 × 5 grid of its footprint). ``mask``: how each slide's tissue mask is made."""

    tile_px: int = 224
    target_mpp: float = 0.5
    min_tissue: float = 0.5
    mask: MaskParams = MaskParams()

    @property
    def tile_um(self) -> float:
        return self.tile_px * self.target_mpp

    def to_dict(self) -> dict:
        return {**asdict(self), "mask": self.mask.to_dict()}


def reference_grid(reference_size_um: tuple[float, float], tile_um: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping tile centres (N, 2) µm covering the reference, and their ids (N,) int64.

    Ids are row-major positions on the full grid, so they stay stable when tiles drop out.
    """
    nx = int(reference_size_um[0] // tile_um)
    ny = int(reference_size_um[1] // tile_um)
    iy, ix = np.mgrid[0:ny, 0:nx]
    centres = np.stack([(ix.ravel() + 0.5) * tile_um, (iy.ravel() + 0.5) * tile_um], 1)
    return centres.astype(np.float64), (iy * nx + ix).ravel().astype(np.int64)


def _footprint(centres_um: np.ndarray, tile_um: float) -> np.ndarray:
    """(N, S², 2) µm sample points spread over each reference tile."""
    s = (np.arange(_FOOTPRINT_SAMPLES) + 0.5) / _FOOTPRINT_SAMPLES - 0.5
    gy, gx = np.meshgrid(s, s, indexing="ij")
    offsets = np.stack([gx.ravel(), gy.ravel()], 1) * tile_um
    return centres_um[:, None, :] + offsets[None]


def slide_validity(slide: Slide, transform: sitk.Transform, centres_um: np.ndarray,
                   params: MatchedTilingParams) -> tuple[np.ndarray, np.ndarray]:
    """For each reference tile: (valid bool (N,), tissue fraction float32 (N,)) in ``slide``.

    Valid: the mapped tile footprint lies inside the slide and at least ``min_tissue``
    of its sample points fall on the slide's own tissue mask.
    """
    pts = _footprint(centres_um, params.tile_um)
    mapped = map_points(transform, pts.reshape(-1, 2)).reshape(pts.shape)
    w_um, h_um = slide.size_um
    half = params.tile_um / 2
    inside = ((mapped[..., 0] >= 0) & (mapped[..., 0] <= w_um)
              & (mapped[..., 1] >= 0) & (mapped[..., 1] <= h_um)).all(1)
    centre = map_points(transform, centres_um)
    inside &= ((centre >= half) & (centre <= np.array([w_um, h_um]) - half)).all(1)
    mask = compute_mask(slide.read_whole_mpp(params.mask.mpp), params.mask)
    mi = np.clip((mapped / params.mask.mpp).astype(int), 0, np.array(mask.shape[::-1]) - 1)
    tissue = mask[mi[..., 1], mi[..., 0]].mean(1).astype(np.float32)
    return inside & (tissue >= params.min_tissue), tissue


def read_matched_tile(slide: Slide, transform: sitk.Transform, centre_um: np.ndarray,
                      params: MatchedTilingParams) -> tuple[np.ndarray, np.ndarray]:
    """The reference tile at ``centre_um`` as seen in ``slide``: (tile_px, tile_px, 3) uint8,
    and the level-0 top-left (x, y) of the axis-aligned box around the mapped centre."""
    tm, n = params.target_mpp, params.tile_px
    half = params.tile_um / 2
    probe = np.array([centre_um, centre_um + (half, 0.0), centre_um + (0.0, half)])
    q = map_points(transform, probe)
    jac = np.stack([(q[1] - q[0]) / half, (q[2] - q[0]) / half], 1)  # d moving / d reference
    region = int(math.ceil(n * np.linalg.norm(jac, 2) * math.sqrt(2))) + 4
    x0 = round((q[0, 0] - region * tm / 2) / slide.mpp)
    y0 = round((q[0, 1] - region * tm / 2) / slide.mpp)
    patch = slide.read_region_mpp(x0, y0, region, region, tm)
    # tile pixel (u, v) ↦ reference µm c + ((u, v) + ½ − n/2)·tm ↦ region pixel
    origin_um = np.array([x0, y0]) * slide.mpp
    a = jac
    b = (q[0] - origin_um) / tm - 0.5 + jac @ (np.full(2, 0.5 - n / 2))
    tile = cv2.warpAffine(patch, np.hstack([a, b[:, None]]).astype(np.float64), (n, n),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    top_left = np.round((q[0] - half) / slide.mpp).astype(np.int64)
    return tile, top_left


def matched_tile_ids(reference: Slide, slides: Mapping[str, tuple[Slide, sitk.Transform]],
                     params: MatchedTilingParams) -> tuple[np.ndarray, np.ndarray, dict]:
    """Tiles valid in every slide: (centres (N, 2) µm, tile_ids (N,), {slide_id: tissue (N,)})."""
    centres, ids = reference_grid(reference.size_um, params.tile_um)
    keep = np.ones(len(ids), bool)
    tissue = {}
    for slide_id, (slide, transform) in slides.items():
        valid, frac = slide_validity(slide, transform, centres, params)
        keep &= valid
        tissue[slide_id] = frac
    return centres[keep], ids[keep], {k: v[keep] for k, v in tissue.items()}


def write_matched_stores(reference_path: str | Path,
                         slides: Mapping[str, tuple[str | Path, str | Path | sitk.Transform]],
                         out_dir: str | Path, params: MatchedTilingParams,
                         reference_id: str, batch: int = 64) -> dict:
    """Write ``{out_dir}/{slide_id}.zarr`` for every slide (the reference included, with an
    identity transform, if listed); returns a summary for the log.

    ``slides``: slide_id → (slide path, transform or ``.tfm`` path reference µm → slide µm).
    """
    reference = open_slide(reference_path, slide_id=reference_id)
    opened = {}
    for slide_id, (path, tfm) in slides.items():
        transform = tfm if isinstance(tfm, sitk.Transform) else load_transform(tfm)
        opened[slide_id] = (open_slide(path, slide_id=slide_id), transform,
                            None if isinstance(tfm, sitk.Transform) else str(tfm))
    centres, ids, tissue = matched_tile_ids(
        reference, {k: (s, t) for k, (s, t, _) in opened.items()}, params)
    if len(ids) == 0:
        raise ValueError(f"no tile is on tissue in all {len(slides)} slides: check the "
                         "registrations (QC images) and the mask parameters")
    out_dir = Path(out_dir)
    for slide_id, (slide, transform, tfm_path) in opened.items():
        tiles = [read_matched_tile(slide, transform, c, params) for c in centres]
        coords = np.stack([t[1] for t in tiles])
        pixels = (np.stack([t[0] for t in tiles[i:i + batch]]) for i in range(0, len(tiles),
                                                                             batch))
        attrs = {"slide_id": slide_id, "reference_slide_id": reference_id,
                 "transform": tfm_path, "target_mpp": params.target_mpp,
                 "tile_px": params.tile_px, "min_tissue_fraction": params.min_tissue,
                 "mask_params": params.mask.to_dict(), "tiling": "plism_matched",
                 "tile_read": "local affine of the transform at each tile",
                 "code_version": code_version()}
        write_tile_store(out_dir / f"{slide_id}.zarr", coords, slide.mpp, tissue[slide_id],
                         attrs, pixel_batches=pixels, tile_px=params.tile_px,
                         extra_arrays={"tile_id": ids, "reference_centre_um": centres})
    for slide, _, _ in opened.values():
        slide.close()
    reference.close()
    return {"n_tiles": int(len(ids)), "slides": sorted(opened), "reference": reference_id}


def write_hub_store(h5_path: str | Path, out: str | Path, slide_id: str,
                    reference_id: str = "GMH_S60", tile_px: int = 224, target_mpp: float = 0.5,
                    expected: int | None = None, batch: int = 256) -> dict:
    """One slide of the hub's pre-registered PLISM tiles (``owkin/plism-dataset`` h5) as a tile
    store, so hub and raw sets share the embedding and benchmark steps.

    Tiles keep plismbench's (x, y) order. ``coords_px`` are the reference-grid (x, y) of
    the key, and ``tile_id`` = x·2³² + y, so matching across slides is by position, as
    upstream. Returns a summary for the log.
    """
    from pathfm.sources.datasets import plism as hub_plism

    keys = hub_plism.tile_keys(h5_path, expected=expected)
    xy = keys[["x", "y"]].to_numpy(np.int64)
    ids = (xy[:, 0] << 32) | xy[:, 1]
    names = keys["key"].tolist()
    pixels = (hub_plism.read_tiles(h5_path, names[i:i + batch])
              for i in range(0, len(names), batch))
    attrs = {"slide_id": slide_id, "reference_slide_id": reference_id, "transform": None,
             "target_mpp": target_mpp, "tile_px": tile_px, "tiling": "plism_hub",
             "source_file": str(h5_path), "tile_read": "pre-registered hub tiles",
             "code_version": code_version()}
    # The hub tiles are already cut at the reference's 0.5 µm/px grid (level-0 mpp unknown
    # here); coords are recorded in that grid, so level0_mpp is the tile mpp.
    write_tile_store(out, xy, target_mpp, np.ones(len(xy), np.float32), attrs,
                     pixel_batches=pixels, tile_px=tile_px, extra_arrays={"tile_id": ids})
    return {"slide_id": slide_id, "n_tiles": int(len(xy))}
