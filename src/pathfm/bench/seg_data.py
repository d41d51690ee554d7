"""Segmentation datasets as (rgb, class mask) pairs per split, one reader per source.

- ``npz``: files with ``rgb`` (H, W, 3) uint8 and ``nuclei`` (H, W) classes (the
  demo cohort's ``segmentation/*.npz``), listed per split by the caller.
- ``consep`` / ``monusac``: the public sets read by :mod:`pathfm.sources.datasets`
  (CoNSeP classes merged as HoVer-Net/eva do; MoNuSAC rasterised from its XML).
  Neither has three splits: CoNSeP ships Train/Test and eva validates on Test;
  MoNuSAC ships train/test. As in eva, the held-out split serves both for early
  stopping and for the reported score; the result records that (``val_is_test``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from pathfm.sources.datasets import consep, monusac

SEG_SOURCES = ("npz", "consep", "monusac")


def class_names(source: str) -> list[str]:
    """Class names, background first, of a public set."""
    if source == "consep":
        return list(consep.CLASSES)
    if source == "monusac":
        return ["background", *monusac.CLASSES]
    raise ValueError(f"{source!r} has no fixed class list; pass the class names")


def _rgb(path: str | Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), np.uint8)


def read_npz(paths: Sequence[str | Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for p in paths:
        z = np.load(p)
        out.append((np.asarray(z["rgb"], np.uint8), np.asarray(z["nuclei"]).astype(np.int64)))
    return out


def read_public(source: str, root: str | Path) -> tuple[dict[str, list], bool]:
    """-> ({train, val, test: [(rgb (H, W, 3) uint8, classes (H, W) int64)]}, val_is_test)."""
    if source == "consep":
        df = consep.load(root)
        pairs = {s: [(_rgb(r.path), consep.load_masks(r.mask_path)[1]) for r in df[df["split"] == s].itertuples()]
                 for s in ("train", "val")}
        held_out = "val"
    elif source == "monusac":
        df = monusac.load(root)
        pairs = {s: [(_rgb(r.path), monusac.load_masks(r.path, r.xml_path)[1].astype(np.int64))
                     for r in df[df["split"] == s].itertuples()] for s in ("train", "test")}
        held_out = "test"
    else:
        raise ValueError(f"unknown segmentation source {source!r}; choose from {SEG_SOURCES}")
    for split, items in pairs.items():
        if not items:
            raise ValueError(f"{source} under {root}: no {split} images")
    return {"train": pairs["train"], "val": pairs[held_out], "test": pairs[held_out]}, True
