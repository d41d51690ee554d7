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

A cohort is tiled in shards (``tile_shard``): one job per run of ``slides_per_job``
slides of the table writes a folder of per-slide tile stores and a folder of masks,
so Camelyon16 and PANDA (~11,000 slides) make tens of jobs, not one per slide.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from pathfm.data.slide_shards import fingerprint
from pathfm.io.atomic import write_json_atomic
from pathfm.sources.datasets import camelyon16, panda
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import mask_slide
from pathfm.wsi.slide import open_slide
from pathfm.wsi.tile_slide import tile_slide
from pathfm.wsi.tile_store import PIXEL_CHUNK_TILES, write_tile_store
from pathfm.wsi.tiling import TilingParams

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


def tile_dataset_slide(slide_path: str | Path, slide_id: str, mask_params: dict, tiling: dict,
                       max_tiles: int, seed: int, mask_out: str | Path, out: str | Path) -> dict:
    """Mask one slide into ``mask_out``, then write its sampled tile store ``out`` (atomically,
    after the mask: an existing store means the slide is finished)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    mask_slide(slide_path, mask_out, MaskParams.from_dict(mask_params), slide_id=slide_id)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.grid.", dir=out.parent) as tmp:
        grid = Path(tmp) / "grid.zarr"
        params = TilingParams.from_dict(tiling | {"pixels": False})
        tile_slide(slide_path, mask_out, grid, params, slide_id=slide_id)
        return sample_tile_store(grid, out, slide_path, max_tiles, seed)


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def tile_shard(slides: Sequence[tuple[str, str]], tiles_out: str | Path, masks_out: str | Path,
               settings: dict, tile_one: Callable[[str, str, Path, Path], dict],
               log: Callable[[str], None] = print) -> dict:
    """Tile a shard's ``(slide_id, path)`` slides: ``tiles_out/{slide_id}.zarr`` and
    ``masks_out/{slide_id}/``, plus ``masks_out/shard.json`` (per-slide tile counts).

    ``tile_one(path, slide_id, mask_dir, store)`` does one slide. Both folders are built
    under ``<folder>.partial`` and renamed when every slide is done, so a job that fails
    part-way (Snakemake removes its declared outputs) resumes after the slides it
    finished, as long as ``settings`` are unchanged (a changed fingerprint starts over).
    """
    tiles_out, masks_out = Path(tiles_out), Path(masks_out)
    tiles_tmp, masks_tmp = _partial(tiles_out), _partial(masks_out)
    fp = fingerprint(settings)
    stamp = masks_tmp / "settings.json"
    if not stamp.is_file() or json.loads(stamp.read_text()).get("fingerprint") != fp:
        for d in (tiles_tmp, masks_tmp):
            shutil.rmtree(d, ignore_errors=True)
    tiles_tmp.mkdir(parents=True, exist_ok=True)
    masks_tmp.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stamp, {"fingerprint": fp, "settings": settings})
    records = []
    for i, (slide_id, path) in enumerate(slides, 1):
        store, mask_dir = tiles_tmp / f"{slide_id}.zarr", masks_tmp / slide_id
        if store.is_dir() and (mask_dir / "mask.json").is_file():
            z = zarr.open_group(str(store), mode="r")
            records.append({"slide_id": slide_id, "n_tissue_tiles": int(z.attrs["n_tissue_tiles"]),
                            "n_tiles": int(z.attrs["n_tiles"]), "resumed": True})
            log(f"[{i}/{len(slides)}] {slide_id}: done earlier, skipped")
            continue
        t0 = time.perf_counter()
        summary = tile_one(path, slide_id, mask_dir, store)
        # Wall times go to the log only, so a rerun writes the same shard.json.
        summary = {k: v for k, v in summary.items() if k not in ("seconds", "tiles_per_s")}
        records.append({"slide_id": slide_id, **summary, "resumed": False})
        log(f"[{i}/{len(slides)}] {slide_id}: {summary['n_tiles']} tiles, "
            f"{time.perf_counter() - t0:.1f} s")
    # Only the slides' stores and masks go out (not a killed run's scratch folders).
    keep = {f"{s}.zarr" for s, _ in slides} | {s for s, _ in slides} | {stamp.name}
    for d in (tiles_tmp, masks_tmp):
        for entry in d.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    result = {"settings": settings, "fingerprint": fp, "n_slides": len(slides),
              "n_resumed": sum(r["resumed"] for r in records), "slides": records}
    write_json_atomic(masks_tmp / "shard.json", result)
    stamp.unlink()
    for tmp, final in ((tiles_tmp, tiles_out), (masks_tmp, masks_out)):
        if final.exists():
            shutil.rmtree(final)
        tmp.replace(final)
    return result
