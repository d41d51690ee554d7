"""Masking and tiling throughput on synthetic demo-size slides.

    python benchmarks/bench_wsi.py --slides 4 --out results/bench/wsi.json

Synthesises slides with the demo parameters (not timed), then times, per slide:
the mask step (open + read at the mask mpp + mask + polygons + PNGs), tiling
without pixels (grid + tissue filter + zarr), and tiling with pixels
(0.5 µm/px, 224 px reads through openslide). Single process, so numbers are
per core.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from pathfm.io import write_json_atomic
from pathfm.version import code_version
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import mask_slide
from pathfm.wsi.synth import SynthParams, synthesize_slide
from pathfm.wsi.tile_slide import tile_slide
from pathfm.wsi.tiling import TilingParams


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20241)
    parser.add_argument("--out", default="results/bench/wsi.json")
    args = parser.parse_args(argv)

    mask_s, grid_s, pix_s, n_tiles = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.slides):
            slide = tmp / f"s{i}.svs"
            synthesize_slide(slide, tmp / f"truth{i}", slide_id=f"s{i}", seed=args.seed + i,
                             params=SynthParams())
            t0 = time.perf_counter()
            mask_slide(slide, tmp / f"mask{i}", MaskParams(), slide_id=f"s{i}")
            t1 = time.perf_counter()
            grid = tile_slide(slide, tmp / f"mask{i}", tmp / f"g{i}.zarr",
                              TilingParams(pixels=False), slide_id=f"s{i}")
            t2 = time.perf_counter()
            tile_slide(slide, tmp / f"mask{i}", tmp / f"p{i}.zarr", TilingParams(pixels=True),
                       slide_id=f"s{i}")
            t3 = time.perf_counter()
            mask_s.append(t1 - t0)
            grid_s.append(t2 - t1)
            pix_s.append(t3 - t2)
            n_tiles.append(grid["n_tiles"])

    result = {
        "benchmark": "wsi_throughput",
        "slides": args.slides,
        "slide_size_um": [SynthParams().width_um, SynthParams().height_um],
        "mask": {"seconds_per_slide": statistics.median(mask_s),
                 "slides_per_min": 60 / statistics.median(mask_s)},
        "tiling_coords_only": {"seconds_per_slide": statistics.median(grid_s),
                               "tiles_per_s": sum(n_tiles) / sum(grid_s)},
        "tiling_with_pixels": {"seconds_per_slide": statistics.median(pix_s),
                               "tiles_per_s": sum(n_tiles) / sum(pix_s)},
        "tiles_per_slide": n_tiles,
        "machine": platform.platform(),
        "code_version": code_version(),
    }
    write_json_atomic(args.out, result)
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
