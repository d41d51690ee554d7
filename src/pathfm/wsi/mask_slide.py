"""The masking step for one slide: mask.png, tissue.geojson, qc.png and mask.json."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pathfm.io import atomic_dir, write_json_atomic
from pathfm.version import code_version
from pathfm.wsi.mask import MaskParams, compute_mask
from pathfm.wsi.polygons import mask_to_polygons, polygons_to_geojson
from pathfm.wsi.qc import mask_overlay, write_png
from pathfm.wsi.slide import open_slide


def mask_slide(slide_path: str | Path, out_dir: str | Path, params: MaskParams, *,
               slide_id: str | None = None, mpp_override: float | None = None,
               mpp_policy: str = "fallback") -> dict:
    """Compute and write the tissue mask of one slide; return the mask.json content."""
    start = time.perf_counter()
    with open_slide(slide_path, mpp_override=mpp_override, mpp_policy=mpp_policy,
                    slide_id=slide_id) as slide:
        rgb = slide.read_whole_mpp(params.mpp)
        level = slide.level_for_mpp(params.mpp)
        info = slide.describe()
    mask = compute_mask(rgb, params)
    scale = params.mpp / info["mpp"]  # level-0 pixels per mask pixel
    polys = mask_to_polygons(mask, scale)
    meta = {
        "slide_id": info["slide_id"],
        "slide": info,
        "mask_mpp": params.mpp,
        "mask_shape": list(mask.shape),
        "level0_per_mask_px": scale,
        "level_read": level.index,
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
        meta["seconds"] = round(time.perf_counter() - start, 3)
        write_json_atomic(tmp / "mask.json", meta)
    return meta
