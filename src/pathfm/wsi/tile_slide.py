"""The tiling step for one slide: grid at exact mpp, tissue filter, optional pixels, zarr store."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pathfm.version import code_version
from pathfm.wsi.qc import read_png
from pathfm.wsi.slide import Slide, open_slide
from pathfm.wsi.tile_store import PIXEL_CHUNK_TILES, write_tile_store
from pathfm.wsi.tiling import TilingParams, tile_grid

log = logging.getLogger(__name__)


def _pixel_batches(slide: Slide, coords: np.ndarray, params: TilingParams) -> Iterator[np.ndarray]:
    for start in tqdm(range(0, len(coords), PIXEL_CHUNK_TILES), desc=f"{slide.slide_id} pixels",
                      unit="batch", mininterval=5):
        batch = coords[start:start + PIXEL_CHUNK_TILES]
        yield np.stack([slide.read_region_mpp(x, y, params.tile_px, params.tile_px, params.mpp)
                        for x, y in batch])


def tile_slide(slide_path: str | Path, mask_dir: str | Path, out_store: str | Path,
               params: TilingParams, *, slide_id: str | None = None,
               mpp_override: float | None = None, mpp_policy: str = "fallback") -> dict:
    """Tile one slide into a zarr tile store; return a summary (counts, timing)."""
    start = time.perf_counter()
    mask_dir = Path(mask_dir)
    mask_meta = json.loads((mask_dir / "mask.json").read_text())
    mask = read_png(mask_dir / "mask.png") > 0
    with open_slide(slide_path, mpp_override=mpp_override, mpp_policy=mpp_policy,
                    slide_id=slide_id) as slide:
        if abs(mask_meta["slide"]["mpp"] - slide.mpp) > 1e-9:
            raise ValueError(f"{mask_dir}: mask was made with level-0 mpp {mask_meta['slide']['mpp']}"
                             f" but {slide_path} now resolves to {slide.mpp}; re-run the mask step")
        grid = tile_grid(slide.dimensions, slide.mpp, mask, mask_meta["mask_mpp"], params)
        level = slide.level_for_mpp(params.mpp)
        attrs = {
            "slide_id": slide.slide_id,
            "tiling": params.name,
            "target_mpp": params.mpp,
            "tile_px": params.tile_px,
            "stride_px": params.stride_px,
            "min_tissue": params.min_tissue,
            "tile_size_level0_px": grid.tile_l0,
            "level_read": level.index,
            "level_downsample": level.downsample,
            "level_mpp": level.mpp,
            "mpp_source": slide.mpp_source,
            "mask_params": mask_meta["params"],
            "n_candidates": grid.n_candidates,
            "code_version": code_version(),
        }
        batches = _pixel_batches(slide, grid.coords_px, params) if params.pixels else None
        write_tile_store(out_store, grid.coords_px, slide.mpp, grid.tissue_fraction, attrs,
                         pixel_batches=batches, tile_px=params.tile_px)
    seconds = time.perf_counter() - start
    summary = {"slide_id": attrs["slide_id"], "n_tiles": int(len(grid.coords_px)),
               "n_candidates": grid.n_candidates, "seconds": round(seconds, 3),
               "tiles_per_s": round(len(grid.coords_px) / seconds, 1) if seconds > 0 else None}
    log.info("tiled %s: %d of %d grid positions kept in %.2f s", attrs["slide_id"],
             summary["n_tiles"], grid.n_candidates, seconds)
    return summary
