"""HEST-Benchmark (hub dataset ``MahmoodLab/hest-bench``), one folder per task:

    {task}/var_50genes.json            {"genes": [...]}
    {task}/splits/{train,test}_{k}.csv  columns sample_id, patches_path, expr_path (relative to the task)
    {task}/patches/{sample}.h5          img (N, 224, 224, 3) uint8, barcode (N, 1) bytes, coords (N, 2)
    {task}/adata/{sample}.h5ad          raw counts, spots indexed by barcode

Targets follow HEST: log1p of raw counts of the 50 genes, in the order of the patches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd

NAME = "hest"
HUB_ID = "MahmoodLab/hest-bench"
TASKS = ("IDC", "PRAD", "PAAD", "SKCM", "COAD", "READ", "ccRCC", "HCC", "LUNG", "LYMPH_IDC")


@dataclass
class HestSample:
    sample_id: str
    images: h5py.Dataset | np.ndarray  # (N, H, W, 3)
    barcodes: np.ndarray  # (N,) str
    coords: np.ndarray  # (N, 2)
    targets: np.ndarray  # (N, n_genes) float32, log1p counts


def genes(task_dir: str | Path) -> list[str]:
    return list(json.loads((Path(task_dir) / "var_50genes.json").read_text())["genes"])


def folds(task_dir: str | Path) -> list[dict[str, pd.DataFrame]]:
    """[{train: df, test: df}, ...] in fold order, from splits/{train,test}_{k}.csv."""
    split_dir = Path(task_dir) / "splits"
    ks = sorted(int(p.stem.split("_")[1]) for p in split_dir.glob("train_*.csv"))
    if not ks:
        raise FileNotFoundError(f"{split_dir}: no train_<k>.csv; is this a HEST-bench task folder?")
    return [{s: pd.read_csv(split_dir / f"{s}_{k}.csv") for s in ("train", "test")} for k in ks]


def load_sample(task_dir: str | Path, row: pd.Series, gene_list: list[str], in_memory: bool = True) -> HestSample:
    task_dir = Path(task_dir)
    with h5py.File(task_dir / row["patches_path"], "r") as f:
        images = f["img"][:] if in_memory else None
        barcodes = np.array([b.decode() if isinstance(b, bytes) else str(b) for b in np.asarray(f["barcode"]).reshape(-1)])
        coords = np.asarray(f["coords"][:])
    if images is None:
        images = h5py.File(task_dir / row["patches_path"], "r")["img"]
    adata = anndata.read_h5ad(task_dir / row["expr_path"])
    missing = [g for g in gene_list if g not in adata.var_names]
    if missing:
        raise ValueError(f"{row['expr_path']}: genes {missing[:5]} absent")
    absent = [b for b in barcodes if b not in adata.obs_names]
    if absent:
        raise ValueError(f"{row['expr_path']}: {len(absent)} patch barcodes have no spot, e.g. {absent[:3]}")
    sub = adata[barcodes, gene_list]
    x = sub.X.toarray() if hasattr(sub.X, "toarray") else np.asarray(sub.X)
    return HestSample(str(row["sample_id"]), images, barcodes, coords, np.log1p(x).astype(np.float32))
