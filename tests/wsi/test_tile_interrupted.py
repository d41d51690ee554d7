"""A tiling step killed mid-write leaves debris that its rerun removes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import mask_slide
from pathfm.wsi.tile_slide import tile_slide
from pathfm.wsi.tile_store import open_tile_store
from pathfm.wsi.tiling import TilingParams

SRC = Path(__file__).resolve().parents[2] / "src"

# `pathfm tiles`, except that after the first batch of pixels is in the store it says so
# through `ready` and stalls, to be killed there.
STALLING_TILES = """
import sys, threading
from pathlib import Path
import pathfm.wsi.tile_slide as tile_slide
from pathfm.cli import main

ready = Path(sys.argv[1])
real = tile_slide._pixel_batches

def stalling(*args, **kwargs):
    batches = real(*args, **kwargs)
    yield next(batches)
    ready.write_text("")  # the store has the first batch written
    threading.Event().wait(120)
    raise SystemExit("was not killed")

tile_slide._pixel_batches = stalling
sys.exit(main(sys.argv[2:]))
"""


def test_killed_tiling_rerun_completes_and_leaves_no_part(make_geometry_slide, tmp_path):
    slide = make_geometry_slide(mpp=0.25)
    mask_dir = tmp_path / "mask"
    mask_slide(slide, mask_dir, MaskParams(mpp=4.0), slide_id="s")
    params = {"mpp": 0.5, "tile_px": 64, "stride_px": 64, "min_tissue": 0.5, "pixels": True}
    out_dir = tmp_path / "tiles"
    out = out_dir / "s.zarr"
    argv = ["tiles", "--slide", str(slide), "--slide-id", "s", "--mask-dir", str(mask_dir),
            "--mpp-policy", "fallback", "--params", json.dumps(params), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out_dir.mkdir()
    other = out_dir / ".t.zarr.ab_d1234.part"  # another slide's leftover: not this step's
    other.mkdir()

    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", STALLING_TILES, str(ready), *argv], env=env)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, "tiling exited before writing pixels"
            assert time.monotonic() < deadline, "tiling never wrote its first batch"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    parts = [p for p in out_dir.iterdir() if p.name.startswith(".s.zarr.") and p.suffix == ".part"]
    assert len(parts) == 1 and (parts[0] / "pixels").is_dir()  # the debris of the kill
    assert not out.exists()

    rerun = subprocess.run([sys.executable, "-m", "pathfm", *argv], env=env, timeout=300)
    assert rerun.returncode == 0

    assert sorted(p.name for p in out_dir.iterdir()) == [other.name, "s.zarr"]
    store = open_tile_store(out)
    n = store.attrs["n_tiles"]
    assert n > 64  # more than one batch of pixels, so the kill was mid-write
    assert store["coords_px"].shape == (n, 2) and store["pixels"].shape == (n, 64, 64, 3)
    reference = tmp_path / "ref" / "s.zarr"
    tile_slide(slide, mask_dir, reference, TilingParams.from_dict(params), slide_id="s")
    ref = open_tile_store(reference)
    np.testing.assert_array_equal(store["coords_px"][:], ref["coords_px"][:])
    np.testing.assert_array_equal(store["pixels"][:], ref["pixels"][:])
