"""Manifest of a synthetic cohort: slide paths, md5s and where their ground truth lies."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pathfm.io import md5_file


def synthetic_manifest(slides: list[str | Path], truth_dirs: list[str | Path]) -> pd.DataFrame:
    """One row per synthetic slide; each slide is its own patient (one section per case)."""
    if len(slides) != len(truth_dirs):
        raise ValueError(f"{len(slides)} slides but {len(truth_dirs)} truth folders")
    rows = []
    for slide, truth_dir in zip(slides, truth_dirs):
        slide, truth_dir = Path(slide), Path(truth_dir)
        truth = json.loads((truth_dir / "truth.json").read_text())
        if truth["slide_id"] != slide.stem:
            raise ValueError(f"{truth_dir}: truth is for {truth['slide_id']}, not {slide.stem}")
        rows.append({
            "slide_id": slide.stem,
            "path": str(slide),
            "md5": md5_file(slide),
            "mpp": None,  # the files carry their mpp; the column stays for overrides
            "patient": f"PAT-{slide.stem}",
            "seed": truth["seed"],
            "truth_dir": str(truth_dir),
        })
    return pd.DataFrame(rows)
