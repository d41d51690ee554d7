"""Camelyon16 and PANDA as slide-benchmark cohorts: the slide table and eva's tile sampling.

The table (TSV) has what ``pathfm.bench.bag_io.load_bags`` and the slide-bench
rules read: ``slide_id``, ``patient``, ``path``, the label column and eva's
``split``. Neither dataset has patient ids, so each slide is its own patient.

Tiling follows eva's ``ForegroundGridSampler``: a non-overlapping grid at the
task's mpp, tiles with at least ``min_tissue`` foreground, then at most
``max_tiles`` of them drawn without replacement with a fixed seed (eva: 10,000 at
0.25 µm/px for Camelyon16, 1,000 at 0.5 µm/px for PANDA, foreground ≥ 0.35,
seed 42). The draw is kept in grid order; only the drawn tiles' pixels are read
and stored (the embedding step reads tile pixels from the store).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from pathfm.sources.datasets import camelyon16, panda
from pathfm.wsi.slide import open_slide
from pathfm.wsi.tile_store import PIXEL_CHUNK_TILES, write_tile_store

LOADERS = {"camelyon16": camelyon16.load, "panda": panda.load}
LABELS = {"camelyon16": "metastasis", "panda": "isup_grade"}
COLUMNS = ["slide_id", "patient", "path", "split"]


def slide_table(dataset: str, root: str | Path) -> pd.DataFrame:
    """One row per slide: slide_id, patient, path, split and the dataset's label column."""
    if dataset not in LOADERS:
        raise ValueError(f"no slide-benchmark loader for {dataset!r}; known: {sorted(LOADERS)}")
    df = LOADERS[dataset](root)
    if df.empty:
        raise ValueError(f"{dataset}: no slides found under {root}")
    if df["slide_id"].duplicated().any():
        raise ValueError(f"{dataset}: duplicate slide ids {sorted(df.loc[df['slide_id'].duplicated(), 'slide_id'])}")
    out = df.assign(patient=df["slide_id"])[COLUMNS].copy()
    out[LABELS[dataset]] = df["target"].astype(int).to_numpy()
    return out


def sample_indices(n: int, max_tiles: int, seed: int) -> np.ndarray:
    """Indices of at most ``max_tiles`` of ``n`` tiles, drawn with ``seed``, in increasing order."""
    if n <= max_tiles:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_tiles, replace=False))


def _pixels(slide_path: str | Path, slide_id: str, coords: np.ndarray, tile_px: int, mpp: float):
    with open_slide(slide_path, slide_id=slide_id) as slide:
        for i in range(0, len(coords), PIXEL_CHUNK_TILES):
            yield np.stack([slide.read_region_mpp(x, y, tile_px, tile_px, mpp)
                            for x, y in coords[i:i + PIXEL_CHUNK_TILES]])


def sample_tile_store(grid: str | Path, dst: str | Path, slide_path: str | Path, max_tiles: int,
                      seed: int) -> dict:
    """Write ``dst``: a seeded draw of at most ``max_tiles`` tiles of the coordinate-only store
    ``grid``, with their pixels read from the slide (only the drawn tiles are ever read)."""
    z = zarr.open_group(str(grid), mode="r")
    coords = np.asarray(z["coords_px"][:])
    keep = sample_indices(len(coords), max_tiles, seed)
    attrs = {k: v for k, v in z.attrs.items() if k not in ("n_tiles", "level0_mpp")}
    attrs |= {"n_tissue_tiles": int(len(coords)), "max_tiles": int(max_tiles), "sample_seed": int(seed)}
    tile_px, mpp = int(attrs["tile_px"]), float(attrs["target_mpp"])
    write_tile_store(dst, coords[keep], float(z.attrs["level0_mpp"]), np.asarray(z["tissue_fraction"][:])[keep],
                     attrs, pixel_batches=_pixels(slide_path, str(attrs["slide_id"]), coords[keep], tile_px, mpp),
                     tile_px=tile_px)
    return {"n_tissue_tiles": int(len(coords)), "n_tiles": int(len(keep))}
