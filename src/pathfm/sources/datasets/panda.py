"""PANDA: train_images/{image_id}.tiff + labels; eva's split (noisy-label filter, stratified 70/15/15, seed 42).

eva reads the community file with a ``noise_ratio_10`` column and keeps the image
ids whose ``noise_ratio_10`` is non-zero (that is literally what its filter does),
then splits with its stratified_split on ``isup_grade``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pathfm.sources.datasets._common import stratified_split
from pathfm.sources.datasets.fetch import Resource, require

NAME = "panda"
RESOURCES = [Resource("train_with_noisy_labels.csv",
                      "https://raw.githubusercontent.com/analokmaus/kaggle-panda-challenge-public/master/train.csv",
                      md5="5e4bfc78bda9603d2e2faf3ed4b21dfa")]
MANUAL = ("Download the slides from Kaggle (prostate-cancer-grade-assessment) into ROOT/train_images, then run "
          "scripts/fetch_dataset.py --dataset panda for the label file.")
RATIOS = (0.7, 0.15, 0.15)


def load(root: str | Path, seed: int = 42) -> pd.DataFrame:
    root = require(root, ["train_images", "train_with_noisy_labels.csv"], "PANDA", MANUAL)
    ann = pd.read_csv(root / "train_with_noisy_labels.csv", index_col="image_id")
    paths = sorted((root / "train_images").glob("*.tiff"))
    if len(paths) != len(ann):
        raise ValueError(f"PANDA: {len(ann)} labelled images but {len(paths)} files in {root / 'train_images'}")
    keep = set(ann.index[ann["noise_ratio_10"] != 0])
    paths = [p for p in paths if p.stem in keep]
    targets = [int(ann.loc[p.stem, "isup_grade"]) for p in paths]
    tr, va, te = stratified_split(targets, *RATIOS, seed=seed)
    split = {**{i: "train" for i in tr}, **{i: "val" for i in va}, **{i: "test" for i in te}}
    return pd.DataFrame({"slide_id": [p.stem for p in paths], "path": [str(p) for p in paths],
                         "target": targets, "split": [split[i] for i in range(len(paths))]})
