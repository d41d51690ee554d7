"""What the demo-slice test counts as identical results (same_outputs.py), without a cluster."""

from __future__ import annotations

import json

import numpy as np
import torch
import zarr
from safetensors.torch import save_file

from .same_outputs import compare_trees


def _tree(root, *, weight=1.0, feature=0.5, seconds=1.0, note="a"):
    (root / "models").mkdir(parents=True)
    save_file({"w": torch.full((2, 3), weight, dtype=torch.bfloat16)},
              str(root / "models" / "weights.safetensors"))
    store = zarr.open_group(str(root / "emb.zarr"), mode="w")
    store.create_array("features", data=np.full((4, 2), feature, dtype=np.float16))
    store.attrs["seconds"] = seconds  # attributes are not compared
    (root / "mask.json").write_text(json.dumps({"tissue_fraction": 0.4, "seconds": seconds}))
    (root / "note.txt").write_text(note)
    (root / "train").mkdir()
    (root / "train" / "log.jsonl").write_text(str(seconds))  # scratch, not a result


def test_wall_times_and_scratch_do_not_count(tmp_path):
    _tree(tmp_path / "a", seconds=1.0)
    _tree(tmp_path / "b", seconds=2.5)
    compared, diffs = compare_trees(tmp_path / "a", tmp_path / "b")
    assert compared == ["emb.zarr", "mask.json", "models/weights.safetensors", "note.txt"]
    assert diffs == {}


def test_any_changed_value_or_missing_file_counts(tmp_path):
    _tree(tmp_path / "a")
    _tree(tmp_path / "b", weight=1.0078125, feature=0.25, note="b")
    (tmp_path / "b" / "extra.txt").write_text("")
    _, diffs = compare_trees(tmp_path / "a", tmp_path / "b")
    assert set(diffs) == {"emb.zarr", "models/weights.safetensors", "note.txt", "extra.txt"}
    assert diffs["models/weights.safetensors"] == "w: values differ"
