"""Tile stores: one zarr group per slide with coordinates, tissue fractions and optional pixels.

Layout (DESIGN "paths and formats"): ``coords_px`` (N×2 int64, level-0 top-left),
``coords_um`` (N×2 float64), ``tissue_fraction`` (N float32), optional ``pixels``
(N×H×W×3 uint8, chunked by tiles); attributes describe how the tiles were made.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import zarr

from pathfm.io import atomic_dir

PIXEL_CHUNK_TILES = 64


def write_tile_store(path: str | Path, coords_px: np.ndarray, slide_mpp: float,
                     tissue_fraction: np.ndarray, attrs: dict,
                     pixel_batches: Iterable[np.ndarray] | None = None,
                     tile_px: int | None = None,
                     extra_arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write the store atomically; ``pixel_batches`` yields (n, H, W, 3) uint8 in coords order.

    ``extra_arrays`` (name → array with n rows, e.g. PLISM's ``tile_id``) are stored as is.
    """
    n = len(coords_px)
    with atomic_dir(path) as tmp:
        group = zarr.open_group(str(tmp), mode="w")
        group.create_array("coords_px", data=np.asarray(coords_px, dtype=np.int64).reshape(n, 2))
        group.create_array("coords_um", data=np.asarray(coords_px, dtype=np.float64).reshape(n, 2)
                           * slide_mpp)
        group.create_array("tissue_fraction", data=np.asarray(tissue_fraction, dtype=np.float32))
        for name, values in (extra_arrays or {}).items():
            values = np.asarray(values)
            if name in group or len(values) != n:
                raise ValueError(f"extra array {name!r} must be new and have {n} rows")
            group.create_array(name, data=values)
        if pixel_batches is not None:
            if tile_px is None:
                raise ValueError("tile_px is required when writing pixels")
            pixels = group.create_array(
                "pixels", shape=(n, tile_px, tile_px, 3), dtype="uint8",
                chunks=(min(PIXEL_CHUNK_TILES, max(n, 1)), tile_px, tile_px, 3),
            )
            start = 0
            for batch in pixel_batches:
                pixels[start:start + len(batch)] = batch
                start += len(batch)
            if start != n:
                raise RuntimeError(f"wrote {start} tile images for {n} coordinates")
        group.attrs.update({**attrs, "n_tiles": int(n), "level0_mpp": float(slide_mpp)})


def open_tile_store(path: str | Path) -> zarr.Group:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"tile store not found: {path}")
    return zarr.open_group(str(path), mode="r")
