"""CoNSeP: {Train,Test}/Images/*.png + {Train,Test}/Labels/*.mat (inst_map, type_map).

eva: train = Train, val = Test; classes merged as in HoVer-Net: 3,4 -> epithelial (3),
5,6,7 -> spindle-shaped (4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from pathfm.sources.datasets.fetch import require

NAME = "consep"
RESOURCES: list = []
MANUAL = "Download consep.zip from https://warwick.ac.uk/fac/cross_fac/tia/data/hovernet/ and unpack it into ROOT."
CLASSES = ["background", "other", "inflammatory", "epithelial", "spindle-shaped"]
SPLIT_DIRS = {"train": "Train", "val": "Test"}


def load(root: str | Path) -> pd.DataFrame:
    root = require(root, ["Train/Images", "Test/Images"], "CoNSeP", MANUAL)
    rows = []
    for split, folder in SPLIT_DIRS.items():
        for img in sorted((root / folder / "Images").glob("*.png")):
            rows.append({"path": str(img), "mask_path": str(root / folder / "Labels" / f"{img.stem}.mat"),
                         "split": split})
    return pd.DataFrame(rows, columns=["path", "mask_path", "split"])


def load_masks(mat_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(instance map, semantic map with eva's 5 classes) of one image."""
    mat = scipy.io.loadmat(str(mat_path))
    types = np.asarray(mat["type_map"]).astype(np.int64)
    types = np.where(types == 4, 3, types)
    types = np.where(types > 4, 4, types)
    return np.asarray(mat["inst_map"]).astype(np.int32), types
