"""Read per-slide bags of tile embeddings and their slide table.

A features input is one or more embedding stores (zarr groups, as written by
``scripts/embed.py --kind tiles``) or ``.npz`` files holding ``features`` (N, D)
and the slide of each tile: ``slide_id`` (N,), or ``group`` (N,), the name
tile-store embeddings give it. The table (TSV) has one row per slide with
``slide_id``, ``patient`` and the task's label columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from pathfm.bench.result import store_provenance

SLIDE_KEYS = ("slide_id", "group")


def _open(path: Path):
    if path.suffix == ".npz":
        return np.load(path, allow_pickle=False)
    import zarr
    return zarr.open_group(str(path), mode="r")


def read_features(paths: str | Path | Sequence[str | Path]) -> tuple[np.ndarray, np.ndarray]:
    """-> (features (N, D) float32, slide id (N,) str), the stores concatenated in order."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    feats, sids = [], []
    for path in map(Path, paths):
        z = _open(path)
        key = next((k for k in SLIDE_KEYS if k in z), None)
        if "features" not in z or key is None:
            raise ValueError(f"{path} lacks 'features' or a slide id array ({' or '.join(SLIDE_KEYS)});"
                             " embed the slide tiles with scripts/embed.py --kind tiles")
        feats.append(np.asarray(z["features"][:], np.float32))
        sids.append(np.array(np.asarray(z[key][:]).tolist(), dtype=str))
    return np.concatenate(feats), np.concatenate(sids)


def features_provenance(paths: str | Path | Sequence[str | Path]) -> dict:
    """What a result records of its embedding stores (model, weights sha256, contract, …)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    first = Path(paths[0])
    attrs = {} if first.suffix == ".npz" else dict(_open(first).attrs)
    prov = store_provenance(SimpleNamespace(path=first, attrs=attrs))
    if len(paths) > 1:
        prov["embeddings"] = [str(p) for p in paths]
    return prov


def slide_table(slides: str | Path, labels: str | Path) -> pd.DataFrame:
    """Slide manifest (slide_id, patient) ⋈ patient labels -> one row per labelled slide.

    For GDC cohorts: the manifest lists slides and their patient, the labels
    (``results/labels/survival.tsv``: patient, time_days, event) are per patient;
    ``time_days`` is renamed ``time``. Slides of unlabelled patients are left out.
    """
    m = pd.read_csv(slides, sep="\t", dtype={"slide_id": str, "patient": str})
    lab = pd.read_csv(labels, sep="\t", dtype={"patient": str}).rename(columns={"time_days": "time"})
    for name, df, cols in ((slides, m, ("slide_id", "patient")), (labels, lab, ("patient",))):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}")
    out = m[["slide_id", "patient"]].merge(lab, on="patient", how="inner")
    if out.empty:
        raise ValueError(f"no slide of {slides} has a patient labelled in {labels}")
    return out.reset_index(drop=True)


def load_bags(features, table: str | Path | pd.DataFrame) -> tuple[list[np.ndarray], pd.DataFrame]:
    """-> (one (N_i, D) bag per table row, the table); a slide with no tiles is an error."""
    x, sid = read_features(features)
    df = table if isinstance(table, pd.DataFrame) else pd.read_csv(table, sep="\t")
    order = np.argsort(sid, kind="stable")
    sid_sorted = sid[order]
    bags = []
    for s in df["slide_id"].astype(str):
        lo, hi = np.searchsorted(sid_sorted, s, "left"), np.searchsorted(sid_sorted, s, "right")
        if lo == hi:
            raise ValueError(f"slide {s!r} of the task table has no tiles in {features}")
        bags.append(x[order[lo:hi]])
    return bags, df


def read_roi_sets(features, table: str | Path) -> dict:
    """Tile embeddings + an ROI table (slide_id, x, y, roi_class, split in {train, query})
    -> {train_x (N, D), train_y (N,), query_x (M, D), query_y (M,), classes [names]}.

    Rows are matched to embeddings on (slide, coords_px); an ROI with no embedding is an error.
    """
    paths = [features] if isinstance(features, (str, Path)) else list(features)
    x, sid = read_features(paths)
    coords = np.concatenate([np.asarray(_open(Path(p))["coords_px"][:]) for p in paths])
    index = {(s, int(cx), int(cy)): i for i, (s, (cx, cy)) in enumerate(zip(sid, coords))}
    df = pd.read_csv(table, sep="\t", dtype={"slide_id": str})
    missing = [c for c in ("slide_id", "x", "y", "roi_class", "split") if c not in df.columns]
    if missing:
        raise ValueError(f"{table} lacks column(s) {missing}")
    rows = [index.get((s, int(cx), int(cy)), -1) for s, cx, cy in zip(df["slide_id"], df["x"], df["y"])]
    if -1 in rows:
        bad = df.iloc[rows.index(-1)]
        raise ValueError(f"ROI {bad['slide_id']} ({bad['x']}, {bad['y']}) of {table} has no embedding in {features}")
    classes = sorted(df["roi_class"].astype(str).unique())
    y = df["roi_class"].astype(str).map({c: k for k, c in enumerate(classes)}).to_numpy(int)
    rows, split = np.array(rows), df["split"].astype(str).to_numpy()
    out = {"classes": classes}
    for name in ("train", "query"):
        sel = split == name
        if not sel.any():
            raise ValueError(f"{table} has no {name!r} rows")
        out[f"{name}_x"], out[f"{name}_y"] = x[rows[sel]], y[sel]
    return out
