"""BACH (ICIAR 2018) photos: 400 .tif in Photos/{Benign,InSitu,Invasive,Normal}; eva's patient-aware split.

eva orders samples as torchvision does (classes sorted, files sorted) and assigns
fixed index ranges to train and val (no test split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pathfm.sources.datasets._common import folder_samples, ranges_to_indices
from pathfm.sources.datasets.fetch import Resource, require

NAME = "bach"
CLASSES = {"Benign": 0, "InSitu": 1, "Invasive": 2, "Normal": 3}
# The zenodo record publishes the archive without an md5 in eva; it is recorded on first download.
RESOURCES = [Resource("ICIAR2018_BACH_Challenge.zip",
                      "https://zenodo.org/records/3632035/files/ICIAR2018_BACH_Challenge.zip", archive="zip")]
TRAIN_RANGES = [(0, 41), (59, 60), (90, 139), (169, 240), (258, 260), (273, 345), (368, 400)]
VAL_RANGES = [(41, 59), (60, 90), (139, 169), (240, 258), (260, 273), (345, 368)]
PHOTOS = "ICIAR2018_BACH_Challenge/Photos"


def load(root: str | Path):
    root = require(root, [PHOTOS], "BACH", "Run scripts/fetch_dataset.py --dataset bach.")
    df = folder_samples(root / PHOTOS, CLASSES, (".tif",))
    split = np.full(len(df), "", dtype=object)
    split[[i for i in ranges_to_indices(TRAIN_RANGES) if i < len(df)]] = "train"
    split[[i for i in ranges_to_indices(VAL_RANGES) if i < len(df)]] = "val"
    df["split"] = split
    return df
