"""The masking step for one slide: mask.png, tissue.geojson, qc.png and mask.json.

The mask reads one pyramid level in full; the tiling step later reads another
(``Slide.level_for_mpp`` of each tiling's mpp, which this step does not know: a
cohort may have several tilings). A tile that does not decode on such a level
would only fail there, possibly hours into a job, so after the mask is made every
other level is decoded at a few places spread over the tissue (one stored tile
each, a handful per level). A failure names the file, level and region.

mask.json holds only what the inputs determine, so a rerun writes it byte for
byte again; the wall time goes to the log.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from pathfm.io import atomic_dir, write_json_atomic
from pathfm.version import code_version
from pathfm.wsi.mask import MaskParams, compute_mask
from pathfm.wsi.polygons import mask_to_polygons, polygons_to_geojson
from pathfm.wsi.qc import mask_overlay, write_png
from pathfm.wsi.slide import open_slide

log = logging.getLogger(__name__)

# The decode check samples the tissue on a CHECK_GRID x CHECK_GRID grid of its bounding box.
CHECK_GRID = 3
DECODE_CHECK = "the mask step's decode check of every pyramid level at sampled tissue"


def decode_check_points(mask: np.ndarray, scale: float, grid: int = CHECK_GRID) -> list[list[int]]:
    """Level-0 (x, y) of up to ``grid²`` tissue pixels of ``mask`` spread over the tissue.

    The tissue's bounding box is cut into ``grid × grid`` cells; each cell holding
    tissue gives its tissue pixel nearest the cell's centre. Without tissue, the
    centres of the cells of the whole slide. Deterministic. The search runs on
    every ``step``-th mask pixel (at most ~512 on a side), so it stays cheap on the
    largest masks; the points are tissue pixels of the full mask all the same.
    """
    step = max(1, int(np.ceil(max(mask.shape) / 512)))
    ys, xs = np.nonzero(mask[::step, ::step])
    if ys.size == 0:
        h, w = mask.shape
        return [[int(round((c + 0.5) * w / grid * scale)), int(round((r + 0.5) * h / grid * scale))]
                for r in range(grid) for c in range(grid)]
    ys, xs = ys * step, xs * step
    y_edges = np.linspace(ys.min(), ys.max() + 1, grid + 1)
    x_edges = np.linspace(xs.min(), xs.max() + 1, grid + 1)
    points = []
    for r in range(grid):
        for c in range(grid):
            inside = ((ys >= y_edges[r]) & (ys < y_edges[r + 1])
                      & (xs >= x_edges[c]) & (xs < x_edges[c + 1]))
            if not inside.any():
                continue
            cy, cx = (y_edges[r] + y_edges[r + 1]) / 2, (x_edges[c] + x_edges[c + 1]) / 2
            cand_y, cand_x = ys[inside], xs[inside]
            best = int(np.argmin((cand_y + 0.5 - cy) ** 2 + (cand_x + 0.5 - cx) ** 2))
            # Centre of the mask pixel, in level-0 pixels.
            points.append([int(round((cand_x[best] + 0.5) * scale)),
                           int(round((cand_y[best] + 0.5) * scale))])
    return points


def mask_slide(slide_path: str | Path, out_dir: str | Path, params: MaskParams, *,
               slide_id: str | None = None, mpp_override: float | None = None,
               mpp_policy: str = "fallback") -> dict:
    """Compute and write the tissue mask of one slide; return the mask.json content.

    Raises SlideReadError when the level read for the mask, or any other level at
    the sampled tissue, does not decode; nothing is written then.
    """
    start = time.perf_counter()
    with open_slide(slide_path, mpp_override=mpp_override, mpp_policy=mpp_policy,
                    slide_id=slide_id) as slide:
        rgb = slide.read_whole_mpp(params.mpp)
        level = slide.level_for_mpp(params.mpp)
        info = slide.describe()
        mask = compute_mask(rgb, params)
        scale = params.mpp / info["mpp"]  # level-0 pixels per mask pixel
        points = decode_check_points(mask, scale)
        checked = [lv.index for lv in slide.levels if lv.index != level.index]
        slide.check_decodes(points, checked, purpose=DECODE_CHECK)
    polys = mask_to_polygons(mask, scale)
    meta = {
        "slide_id": info["slide_id"],
        "slide": info,
        "mask_mpp": params.mpp,
        "mask_shape": list(mask.shape),
        "level0_per_mask_px": scale,
        "level_read": level.index,
        "decode_check": {"levels": checked, "points_level0": points},
        "params": params.to_dict(),
        "tissue_fraction": float(mask.mean()),
        "tissue_area_mm2": float(mask.sum() * params.mpp**2 / 1e6),
        "n_polygons": len(polys.geoms),
        "code_version": code_version(),
    }
    geojson = polygons_to_geojson(polys, {"slide_id": info["slide_id"], "coordinates": "level0_px",
                                          "level0_mpp": info["mpp"]})
    with atomic_dir(out_dir) as tmp:
        write_png(tmp / "mask.png", (mask * 255).astype(np.uint8))
        write_png(tmp / "qc.png", mask_overlay(rgb, mask))
        write_json_atomic(tmp / "tissue.geojson", geojson)
        write_json_atomic(tmp / "mask.json", meta)
    log.info("mask of %s: %.1f%% tissue, %d polygons, levels %s decode-checked at %d places, "
             "%.2f s", info["slide_id"], 100 * meta["tissue_fraction"], meta["n_polygons"],
             checked, len(points), time.perf_counter() - start)
    return meta
