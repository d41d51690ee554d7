"""Atomic writers: umask-respecting modes, and cleanup of leftovers of killed writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pathfm.io import atomic_dir, atomic_path, write_json_atomic

SRC = Path(__file__).resolve().parents[2] / "src"

# A writer in another process: opens atomic_dir(out_dir) and atomic_path(out_file), writes
# part of each, says so through `ready`, then waits for `go` (or to be killed).
WRITER = """
import sys, time
from pathlib import Path
from pathfm.io import atomic_dir, atomic_path
out_dir, out_file, ready, go = map(Path, sys.argv[1:5])
with atomic_dir(out_dir) as d, atomic_path(out_file) as f:
    (d / "chunk").write_bytes(b"x" * 1000)
    f.write_text("half")
    ready.write_text("")
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    (d / "done").write_text("child")
    f.write_text("child")
"""


def _start_writer(tmp_path: Path, out_dir: Path, out_file: Path, tag: str):
    ready, go = tmp_path / f"{tag}.ready", tmp_path / f"{tag}.go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out_dir), str(out_file),
                             str(ready), str(go)], env=env)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, "writer exited early"
        assert time.monotonic() < deadline, "writer never got going"
        time.sleep(0.01)
    return proc, go


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)],
                         ids=["umask022", "umask027"])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("a")
    write_json_atomic(tmp_path / "b.json", {"b": 1})
    with atomic_dir(tmp_path / "c.zarr") as tmp:
        (tmp / "inner").write_text("c")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "c.zarr").stat().st_mode & 0o777 == dir_mode
    assert (tmp_path / "c.zarr" / "inner").stat().st_mode & 0o777 == file_mode
    assert _hidden(tmp_path) == []


def test_rerun_removes_leftovers_of_a_killed_writer_and_only_those(tmp_path):
    out_dir, out_file = tmp_path / "s.zarr", tmp_path / "s.json"
    proc, _ = _start_writer(tmp_path, out_dir, out_file, "killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # The kill left each output's temporary (and its lock) behind.
    left = _hidden(tmp_path)
    assert any(n.startswith(".s.zarr.") and n.endswith(".part") for n in left), left
    assert any(n.startswith(".s.json.") and n.endswith(".part") for n in left), left
    # A killed writer of another output in the same folder keeps its leftovers too.
    proc, _ = _start_writer(tmp_path, tmp_path / "t.zarr", tmp_path / "t.json", "other")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    t_left = [n for n in _hidden(tmp_path) if n.startswith((".t.zarr.", ".t.json."))]
    assert len(t_left) == 4  # .part and .lock of each
    assert set(left) <= set(_hidden(tmp_path))  # ...and it left those of s.* alone

    # Leftovers of the earlier mkstemp-based writer, and other outputs' temporaries.
    (tmp_path / ".s.zarr.ab_d1234.part").mkdir()
    (tmp_path / ".s.zarr.old").mkdir()
    others = [".t.zarr.ab_d1234.part", ".s.zarr2.ab_d1234.part", ".s.zarr.bak.ab_d1234.part",
              ".s.zarr.old.ab_d1234.part", ".s.zarr.keep"]
    for name in others:
        (tmp_path / name).mkdir()

    with atomic_dir(out_dir) as tmp:
        (tmp / "done").write_text("rerun")
    write_json_atomic(out_file, {"done": "rerun"})

    assert (out_dir / "done").read_text() == "rerun" and "rerun" in out_file.read_text()
    assert _hidden(tmp_path) == sorted(others + t_left)
    with atomic_dir(tmp_path / "t.zarr"):  # and its own rerun clears them
        pass
    assert not any(n.startswith(".t.zarr.") for n in _hidden(tmp_path))


def test_a_live_writer_of_the_same_output_keeps_its_temporaries(tmp_path):
    out_dir, out_file = tmp_path / "s.zarr", tmp_path / "s.json"
    proc, go = _start_writer(tmp_path, out_dir, out_file, "live")
    try:
        live = _hidden(tmp_path)
        with atomic_dir(out_dir) as tmp:
            (tmp / "done").write_text("parent")
        write_json_atomic(out_file, "parent")
        assert _hidden(tmp_path) == live  # the other writer's .part and .lock are intact
        go.write_text("")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (out_dir / "done").read_text() == "child" and out_file.read_text() == "child"
    assert _hidden(tmp_path) == []
