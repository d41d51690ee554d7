"""MHIST: annotations.csv (Image Name, Majority Vote Label, Partition) + images/; eva uses Partition.

The data sit behind a request form (https://bmirds.github.io/MHIST/), so there is no
automatic download: place ``annotations.csv`` and ``images/`` under the root.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pathfm.sources.datasets.fetch import require

NAME = "mhist"
CLASSES = {"SSA": 0, "HP": 1}  # eva's order
RESOURCES: list = []
MANUAL = "Request MHIST at https://bmirds.github.io/MHIST/ and unpack annotations.csv and images/ into the root."


def load(root: str | Path) -> pd.DataFrame:
    root = require(root, ["annotations.csv", "images"], "MHIST", MANUAL)
    ann = pd.read_csv(root / "annotations.csv")
    df = pd.DataFrame({"path": [str(root / "images" / n) for n in ann["Image Name"]],
                       "label": ann["Majority Vote Label"],
                       "target": ann["Majority Vote Label"].map(CLASSES),
                       "split": ann["Partition"].str.strip().str.lower()})
    if df["target"].isna().any():
        raise ValueError(f"{root}/annotations.csv: labels other than {list(CLASSES)}")
    # eva: train = Partition "train", evaluation on Partition "test".
    return df
