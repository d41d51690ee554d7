"""Cohort QC: a sheet of mask overlays with tile counts, and a table (with truth IoU if known)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from pathfm.io import atomic_path
from pathfm.wsi.mask import iou
from pathfm.wsi.qc import read_png, summary_sheet
from pathfm.wsi.tile_store import open_tile_store


def mask_iou_vs_truth(mask_dir: str | Path, truth_dir: str | Path) -> float:
    """IoU of a computed mask against the synthetic ground truth, on the truth's grid.

    The computed mask is area-resampled to the truth raster and thresholded at
    half coverage, so neither raster's resolution favours the comparison.
    """
    mask = read_png(Path(mask_dir) / "mask.png") > 0
    truth = read_png(Path(truth_dir) / "tissue_mask.png") > 0
    resampled = cv2.resize(mask.astype(np.float32), (truth.shape[1], truth.shape[0]),
                           interpolation=cv2.INTER_AREA) >= 0.5
    return iou(resampled, truth)


def cohort_qc(cohort: str, manifest: pd.DataFrame, mask_jsons: list[str | Path],
              tile_stores: list[str | Path], out_png: str | Path, out_tsv: str | Path) -> pd.DataFrame:
    stores_by_slide: dict[str, list[Path]] = {}
    for store in map(Path, tile_stores):
        stores_by_slide.setdefault(store.stem, []).append(store)
    truth_dirs = dict(zip(manifest["slide_id"], manifest.get("truth_dir", [None] * len(manifest))))
    rows, panels = [], []
    for mask_json in map(Path, mask_jsons):
        meta = json.loads(mask_json.read_text())
        slide_id = meta["slide_id"]
        row = {"slide_id": slide_id, "level0_mpp": meta["slide"]["mpp"],
               "mpp_source": meta["slide"]["mpp_source"],
               "tissue_area_mm2": round(meta["tissue_area_mm2"], 4)}
        n_tiles = 0
        for store in stores_by_slide.get(slide_id, []):
            group = open_tile_store(store)
            row[f"tiles_{group.attrs['tiling']}"] = int(group.attrs["n_tiles"])
            n_tiles += int(group.attrs["n_tiles"])
        truth = truth_dirs.get(slide_id)
        if isinstance(truth, str) and truth:
            row["mask_iou_vs_truth"] = round(mask_iou_vs_truth(mask_json.parent, truth), 4)
        rows.append(row)
        panels.append({"image": read_png(mask_json.parent / "qc.png"), "slide_id": slide_id,
                       "n_tiles": n_tiles, "iou": row.get("mask_iou_vs_truth")})
    table = pd.DataFrame(rows)
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    ious = [r["mask_iou_vs_truth"] for r in rows if "mask_iou_vs_truth" in r]
    title = f"cohort {cohort}: {len(rows)} slides"
    if ious:
        title += f", mask IoU min {min(ious):.3f} / mean {sum(ious) / len(ious):.3f}"
    summary_sheet(panels, out_png, title)
    return table


