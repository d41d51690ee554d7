"""Helpers shared by the dataset loaders: eva-ordered folder listing, eva's stratified split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def folder_samples(directory: Path, class_to_idx: Mapping[str, int], extensions: tuple[str, ...]) -> pd.DataFrame:
    """torchvision ``make_dataset`` order (what eva uses): classes sorted, files sorted within each."""
    rows = []
    for cls in sorted(class_to_idx):
        folder = directory / cls
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions):
            rows.append({"path": str(path), "label": cls, "target": class_to_idx[cls]})
    return pd.DataFrame(rows, columns=["path", "label", "target"])


def ranges_to_indices(ranges: Sequence[tuple[int, int]]) -> list[int]:
    return [i for start, stop in ranges for i in range(start, stop)]


def stratified_split(targets: Sequence, train: float, val: float, test: float | None, seed: int):
    """eva.core.data.splitting.stratified_split, reproduced (legacy global NumPy RNG, floor sizes)."""
    rng = np.random.RandomState(seed)  # same stream as np.random.seed(seed) + np.random.shuffle
    classes, y = np.unique(np.asarray(targets), return_inverse=True)
    tr, va, te = [], [], []
    for c in range(len(classes)):
        idx = np.where(y == c)[0]
        rng.shuffle(idx)
        n_tr = int(np.floor(train * len(idx))) or 1
        n_va = int(np.floor(val * len(idx))) or 1
        tr.extend(idx[:n_tr])
        va.extend(idx[n_tr:n_tr + n_va])
        if test:
            te.extend(idx[n_tr + n_va:])
    return [int(i) for i in tr], [int(i) for i in va], [int(i) for i in te]
