"""PLISM tiles as published for plismbench: the hub dataset ``owkin/plism-dataset`` holds
one ``{STAINING}_{SCANNER}_to_GMH_S60.tif.h5`` per slide, each with one dataset per
tile (key ``<prefix>_<a>_<x>_<y>``, value a 224×224×3 uint8 array), 16,278 tiles.

plismbench parses the last three ``_`` fields of each key as integers and sorts the
tiles by (x, y); tiles are matched across slides by that position.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

NAME = "plism"
HUB_ID = "owkin/plism-dataset"
STAININGS = ("GIV", "GIVH", "GM", "GMH", "GV", "GVH", "HR", "HRH", "KR", "KRH", "LM", "LMH", "MY")
SCANNERS = ("AT2", "GT450", "P", "S210", "S360", "S60", "SQ")
TILES_PER_SLIDE = 16_278
_NAME = re.compile(r"^(?P<staining>[A-Z]+)_(?P<scanner>[A-Z0-9]+)_to_GMH_S60\.tif\.h5$")


def slide_files(staining: list[str] | None = None, scanners: list[str] | None = None) -> list[str]:
    """Hub file names of the selected slides (all 91 by default)."""
    return [f"{st}_{sc}_to_GMH_S60.tif.h5" for st in (staining or STAININGS) for sc in (scanners or SCANNERS)]


def list_slides(root: str | Path) -> pd.DataFrame:
    rows = []
    for path in sorted(Path(root).glob("*_to_GMH_S60.tif.h5")):
        m = _NAME.match(path.name)
        if not m:
            continue
        rows.append({"slide_id": path.name[: -len(".h5")], "staining": m["staining"], "scanner": m["scanner"],
                     "path": str(path)})
    if not rows:
        raise FileNotFoundError(f"no PLISM slide files (*_to_GMH_S60.tif.h5) under {root}; "
                                f"run scripts/fetch_dataset.py --dataset plism")
    return pd.DataFrame(rows)


def tile_keys(path: str | Path, expected: int | None = None) -> pd.DataFrame:
    """Tile keys of one slide file with their integer fields, sorted by (x, y) as plismbench does."""
    with h5py.File(path, "r") as f:
        keys = list(f.keys())
    if expected is not None and len(keys) != expected:
        raise ValueError(f"{path}: {len(keys)} tiles, expected {expected} (incomplete download?)")
    fields = np.array([k.split("_")[-3:] for k in keys]).astype(np.int64)
    df = pd.DataFrame({"key": keys, "a": fields[:, 0], "x": fields[:, 1], "y": fields[:, 2]})
    return df.sort_values(["x", "y"], kind="stable").reset_index(drop=True)


def read_tiles(path: str | Path, keys: list[str]) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return np.stack([np.asarray(f[k][:], dtype=np.uint8) for k in keys])
