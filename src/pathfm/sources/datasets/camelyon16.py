"""Camelyon16 WSIs: training/{normal,tumor}/*.tif, testing/images/*.tif, testing/reference.csv.

eva's split: train/val by a fixed list of validation slides (the PCam ones), test = testing/.
The slides are on the GigaScience / AWS open-data mirrors; fetch them with those tools.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pathfm.sources.datasets.fetch import require

NAME = "camelyon16"
RESOURCES: list = []
MANUAL = ("Download CAMELYON16 (e.g. aws s3 sync --no-sign-request s3://camelyon-dataset/CAMELYON16/ ROOT) "
          "so that training/normal, training/tumor, testing/images and testing/reference.csv exist.")
CLASSES = {"normal": 0, "tumor": 1}
VAL_SLIDES = frozenset(
    [f"normal_{i:03d}" for i in (10, 13, 16, 17, 19, 20, 25, 30, 31, 32, 52, 56, 57, 67, 76, 79, 85, 95, 98, 99,
                                 101, 102, 105, 106, 109, 129, 132, 137, 142, 143, 148, 152)]
    + [f"tumor_{i:03d}" for i in (1, 5, 11, 12, 13, 19, 31, 37, 43, 46, 57, 65, 69, 71, 73, 79, 80, 81, 82, 85,
                                  97, 109)])


def load(root: str | Path) -> pd.DataFrame:
    root = require(root, ["training/normal", "training/tumor", "testing/images", "testing/reference.csv"],
                   "Camelyon16", MANUAL)
    ref = pd.read_csv(root / "testing/reference.csv", header=None)
    test_labels = {str(k): str(v).lower() for k, v in ref[[0, 1]].itertuples(index=False)}
    rows = []
    for path in sorted((root / "training").glob("*/*.tif")):
        sid = path.stem
        rows.append({"slide_id": sid, "path": str(path), "label": path.parent.name,
                     "split": "val" if sid in VAL_SLIDES else "train"})
    for path in sorted((root / "testing/images").glob("*.tif")):
        if path.stem not in test_labels:
            raise ValueError(f"{path.name} has no row in testing/reference.csv")
        rows.append({"slide_id": path.stem, "path": str(path), "label": test_labels[path.stem], "split": "test"})
    df = pd.DataFrame(rows, columns=["slide_id", "path", "label", "split"])
    df["target"] = df["label"].map(CLASSES)
    return df
