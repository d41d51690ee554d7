"""Checkpoints load with weights_only=True: a planted pickle runs nothing and is named."""

from __future__ import annotations

import os
import pickle
import random

import numpy as np
import pytest
import torch

from pathfm.train.checkpoint import (
    UnsafeCheckpointError,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


class _Planted:
    """Unpickling this creates ``marker``: the code execution a full pickle load allows."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("fmt", ["torch", "pickle"])
def test_planted_checkpoint_runs_nothing_and_error_names_the_file(tmp_path, fmt):
    ckpt_dir = tmp_path / "checkpoints"
    save_checkpoint(ckpt_dir, 10, {"w": torch.zeros(2)})
    marker = tmp_path / "pwned"
    planted = ckpt_dir / "step_00000099.pt"
    payload = {"task": _Planted(marker), "step": 99}
    if fmt == "torch":
        torch.save(payload, planted)
    else:
        with open(planted, "wb") as f:
            pickle.dump(payload, f, protocol=2)
    assert latest_checkpoint(ckpt_dir) == planted  # resume would pick it
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(planted)
    assert not marker.exists()
    msg = str(err.value)
    assert str(planted) in msg
    assert "not a pathfm checkpoint" in msg and "Delete it" in msg and "Nothing in it was run" in msg
    assert "weights_only=False" not in msg  # never advise the unsafe load


def test_checkpoint_of_numpy_objects_is_refused_with_a_clear_error(tmp_path):
    # What earlier pathfm versions wrote: numpy's RNG state as a pickled ndarray.
    path = tmp_path / "step_00000001.pt"
    torch.save({"step": 1, "rng": {"numpy": np.random.get_state()}}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"step_00000001\.pt.*numpy.*Delete it"):
        load_checkpoint(path)


def test_not_a_checkpoint_at_all(tmp_path):
    path = tmp_path / "step_00000001.pt"
    path.write_bytes(b"garbage")
    with pytest.raises(UnsafeCheckpointError, match=r"step_00000001\.pt.*Delete it"):
        load_checkpoint(path)


def test_saved_checkpoint_loads_weights_only_and_restores_every_rng_bitwise(tmp_path):
    random.seed(1)
    np.random.seed(2)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    torch.manual_seed(3)
    state = {"task": {"w": torch.arange(4.0)}, "optimizer": {"state": {}, "param_groups": [
        {"lr": 0.1, "betas": (0.9, 0.99), "params": [0]}]}, "data": {"epoch": 1, "in_epoch": 2},
        "config": {"seed": 0, "nested": [1, "a", None]}}
    path = save_checkpoint(tmp_path, 7, state)
    expected = (random.random(), np.random.randn(5).tolist(), np.random.randint(0, 2**31, 3).tolist(),
                torch.rand(3).tolist())
    raw = torch.load(path, map_location="cpu", weights_only=True)
    loaded = load_checkpoint(path)
    assert raw.keys() == loaded.keys()
    assert loaded["step"] == 7 and loaded["config"] == state["config"]
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.99)
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    restore_rng_state(loaded["rng"])
    again = (random.random(), np.random.randn(5).tolist(), np.random.randint(0, 2**31, 3).tolist(),
             torch.rand(3).tolist())
    assert again == expected


def test_save_refuses_state_a_safe_load_would_reject(tmp_path):
    with pytest.raises(TypeError, match="numpy"):
        save_checkpoint(tmp_path, 1, {"x": np.zeros(3)})
    assert latest_checkpoint(tmp_path) is None
    assert [p.name for p in tmp_path.iterdir()] == []


def test_checkpoint_file_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path, 1, {"w": torch.ones(1)})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_save_removes_temporaries_of_killed_saves(tmp_path):
    (tmp_path / ".step_00000005.pt.ab_d1234.tmp").write_bytes(b"half")  # earlier mkstemp save
    for kind in ("part", "lock"):  # atomic_path's, from a save whose process is gone
        (tmp_path / f".step_00000007.pt.node1-4242-deadbeef.{kind}").write_bytes(b"half")
    (tmp_path / ".notes.txt.ab_d1234.tmp").write_bytes(b"not ours")
    save_checkpoint(tmp_path, 10, {"w": torch.ones(1)})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.txt.ab_d1234.tmp",
                                                          "step_00000010.pt"]
