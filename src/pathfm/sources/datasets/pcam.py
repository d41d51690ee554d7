"""PatchCamelyon: camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5 (datasets "x", "y").

The published md5s (eva) are those of the unpacked .h5 files.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from pathfm.sources.datasets.fetch import Resource, require

NAME = "pcam"
_URL = "https://zenodo.org/records/2546921/files/{}.gz?download=1"
_MD5 = {
    "train_x": "01844da899645b4d6f84946d417ba453", "train_y": "0781386bf6c2fb62d58ff18891466aca",
    "valid_x": "81cf9680f1724c40673f10dc88e909b1", "valid_y": "94d8aacc249253159ce2a2e78a86e658",
    "test_x": "2614b2e6717d6356be141d9d6dbfcb7e", "test_y": "11ed647efe9fe457a4eb45df1dba19ba",
}
RESOURCES = [Resource(f"camelyonpatch_level_2_split_{k}.h5.gz", _URL.format(f"camelyonpatch_level_2_split_{k}.h5"),
                      md5=v, archive="gz", md5_of="extracted") for k, v in _MD5.items()]
SPLITS = {"train": "train", "val": "valid", "test": "test"}


def h5_path(root: str | Path, split: str, kind: str) -> Path:
    return Path(root) / f"camelyonpatch_level_2_split_{SPLITS[split]}_{kind}.h5"


def load(root: str | Path, split: str) -> tuple[h5py.Dataset, np.ndarray]:
    """The lazily read image dataset (N, 96, 96, 3) and the labels (N,) of ``split``."""
    require(root, [h5_path(root, split, k).name for k in ("x", "y")], "PCam",
            "Run scripts/fetch_dataset.py --dataset pcam.")
    with h5py.File(h5_path(root, split, "y"), "r") as f:
        y = np.asarray(f["y"][:]).reshape(-1).astype(np.int64)
    x = h5py.File(h5_path(root, split, "x"), "r")["x"]
    if len(x) != len(y):
        raise ValueError(f"PCam {split}: {len(x)} images but {len(y)} labels")
    return x, y
