"""Read per-slide bags of tile embeddings and their slide table.

A features file (zarr group or .npz) holds ``features`` (N, D) and ``slide_id``
(N,) naming the slide of each tile; the table (TSV) has one row per slide with
``slide_id``, ``patient`` and the task's label columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def read_features(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    path = Path(path)
    if path.suffix == ".npz":
        z = np.load(path, allow_pickle=False)
    else:
        import zarr
        z = zarr.open_group(str(path), mode="r")
    for key in ("features", "slide_id"):
        if key not in z:
            raise ValueError(f"{path} lacks the {key!r} array; embed the slide tiles with slide ids")
    return np.asarray(z["features"][:], np.float32), np.asarray(z["slide_id"][:]).astype(str)


def load_bags(features: str | Path, table: str | Path) -> tuple[list[np.ndarray], pd.DataFrame]:
    """-> (one (N_i, D) bag per table row, the table); a slide with no tiles is an error."""
    x, sid = read_features(features)
    df = pd.read_csv(table, sep="\t")
    order = np.argsort(sid, kind="stable")
    sid_sorted = sid[order]
    bags = []
    for s in df["slide_id"].astype(str):
        lo, hi = np.searchsorted(sid_sorted, s, "left"), np.searchsorted(sid_sorted, s, "right")
        if lo == hi:
            raise ValueError(f"slide {s!r} of {table} has no tiles in {features}")
        bags.append(x[order[lo:hi]])
    return bags, df
