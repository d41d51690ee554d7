"""Deterministic WSI subsets for the data-size ablation (kaiko Table III: 1/10/30/100 % of TCGA).

The subset of a cohort is the first ``n = max(1, round(fraction · N))`` slides of a
seeded permutation of its sorted slide ids, so it depends only on (slide ids,
fraction, seed), and with one seed the smaller subsets are nested in the larger
(1 % ⊂ 10 % ⊂ 30 %), as growing a data set would be. The subset is written as a
manifest of the chosen rows, which the training card names and hashes
(``data_manifest``), plus a JSON record of the fraction, seed and counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pathfm.io import atomic_path
from pathfm.manifest import read_manifest, write_manifest


def subset_size(n_slides: int, fraction: float) -> int:
    if not 0 < fraction <= 1:
        raise ValueError(f"WSI fraction must be in (0, 1], got {fraction}")
    return min(n_slides, max(1, round(fraction * n_slides)))


def choose_slides(slide_ids: Sequence[str], fraction: float, seed: int) -> list[str]:
    """The chosen slide ids, in sorted order."""
    ids = sorted(slide_ids)
    if fraction >= 1:
        return ids
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0x57151])).permutation(len(ids))
    return sorted(ids[i] for i in order[: subset_size(len(ids), fraction)])


def write_subset(manifest: str | Path, fraction: float, seed: int, out: str | Path,
                 record: str | Path) -> list[str]:
    """Write the rows of the chosen slides to ``out`` and the choice to ``record`` (JSON)."""
    df = read_manifest(manifest)
    chosen = choose_slides(list(df["slide_id"]), fraction, seed)
    write_manifest(df[df["slide_id"].isin(chosen)].reset_index(drop=True), out)
    info = {"manifest": str(manifest), "fraction": fraction, "seed": seed,
            "n_slides": int(len(df)), "n_chosen": len(chosen), "slide_ids": chosen}
    with atomic_path(record) as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1) + "\n")
    return chosen
