"""NCT-CRC-HE-100K (train) and CRC-VAL-HE-7K (val): folders of 9 tissue classes, .tif (eva's CRC)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pathfm.sources.datasets._common import folder_samples
from pathfm.sources.datasets.fetch import Resource, require

NAME = "crc"
CLASSES = {c: i for i, c in enumerate(["ADI", "BACK", "DEB", "LYM", "MUC", "MUS", "NORM", "STR", "TUM"])}
RESOURCES = [
    Resource("NCT-CRC-HE-100K.zip", "https://zenodo.org/records/1214456/files/NCT-CRC-HE-100K.zip?download=1",
             md5="035777cf327776a71a05c95da6d6325f", archive="zip"),
    Resource("CRC-VAL-HE-7K.zip", "https://zenodo.org/records/1214456/files/CRC-VAL-HE-7K.zip?download=1",
             md5="2fd1651b4f94ebd818ebf90ad2b6ce06", archive="zip"),
]
SPLIT_DIRS = {"train": "NCT-CRC-HE-100K", "val": "CRC-VAL-HE-7K"}


def load(root: str | Path) -> pd.DataFrame:
    root = require(root, list(SPLIT_DIRS.values()), "CRC", "Run scripts/fetch_dataset.py --dataset crc.")
    parts = []
    for split, folder in SPLIT_DIRS.items():
        df = folder_samples(root / folder, CLASSES, (".tif",))
        df["split"] = split
        parts.append(df)
    return pd.concat(parts, ignore_index=True)
