"""Online patching throughput: patches/s of each reader beside the raw decode rate of the
tiles those patches cover, and the cost of multi-crop on top.

    python benchmarks/bench_online_patching.py results/bench_online_patching.json

Builds a synthetic textured pyramidal slide (JPEG tiles, 0.25 µm/px) in a temp folder,
so it needs no data; --n sets the number of patches per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from shapely.geometry import Point, mapping

from pathfm.data.multicrop import MultiCrop, MultiCropConfig
from pathfm.data.patch_readers import level_for_mpp, open_reader
from pathfm.data.patch_sampling import PatchSampler, build_slide_index
from pathfm.io import write_json_atomic
from pathfm.io.hashing import md5_file
from pathfm.wsi.tiff_writer import write_pyramidal_tiff


def make_cohort(root: Path, size=(6000, 4000), mpp=0.25) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    w, h = size
    # Blurred noise in H&E-like colours: JPEG tiles that cost what real tissue costs to decode.
    noise = cv2.GaussianBlur(rng.random((h, w), np.float32), (0, 0), 2.0)[..., None]
    pink, purple = np.array([230, 150, 190], np.float32), np.array([120, 60, 150], np.float32)
    rgb = (pink + (purple - pink) * noise).clip(0, 255).astype(np.uint8)
    slide = write_pyramidal_tiff(root / "bench.svs", rgb, mpp=mpp, downsamples=(1, 4, 16))
    tissue = Point(w / 2, h / 2).buffer(min(w, h) * 0.45)
    (root / "masks" / "bench").mkdir(parents=True)
    (root / "masks" / "bench" / "tissue.geojson").write_text(json.dumps(
        {"type": "FeatureCollection",
         "features": [{"type": "Feature", "geometry": mapping(tissue), "properties": {}}]}))
    manifest = root / "manifest.tsv"
    pd.DataFrame([{"slide_id": "bench", "path": str(slide), "md5": md5_file(slide)}]).to_csv(
        manifest, sep="\t", index=False)
    return manifest, root / "masks"


def covered_tiles(slide, spec, tile=256) -> set:
    """(level, ty, tx) of every stored tile a patch read touches."""
    level = level_for_mpp(slide.level_mpps, spec.mpp)
    ds = slide.downsamples[level]
    span = spec.size_px * spec.mpp / slide.level_mpps[level]
    x, y = spec.x0 / ds, spec.y0 / ds
    return {(level, ty, tx) for ty in range(int(y // tile), int((y + span - 1) // tile) + 1)
            for tx in range(int(x // tile), int((x + span - 1) // tile) + 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file to write")
    parser.add_argument("--n", type=int, default=300, help="patches per measurement")
    parser.add_argument("--patch-px", type=int, default=256)
    args = parser.parse_args(argv)
    result: dict = {"patch_px": args.patch_px, "n_patches": args.n,
                    "mpps": [2.0, 1.0, 0.5, 0.25]}
    with tempfile.TemporaryDirectory() as tmp:
        manifest, masks = make_cohort(Path(tmp))
        slides = build_slide_index([manifest], [masks])
        sampler = PatchSampler(slides, args.patch_px, result["mpps"], seed=0)
        t = time.perf_counter()
        specs = [sampler.spec(j) for j in range(args.n)]
        result["sampling_patches_per_s"] = args.n / (time.perf_counter() - t)

        import tifffile
        with tifffile.TiffFile(slides[0].path) as tf:
            pages = [p for p in tf.pages if p.is_tiled]
            tiles = [covered_tiles(slides[0], s) for s in specs]
            t = time.perf_counter()
            n_tiles = 0
            for cover in tiles:  # decode every tile a patch needs, no cache: the raw cost
                for level, ty, tx in cover:
                    page = pages[level]
                    index = ty * ((page.imagewidth + 255) // 256) + tx
                    fh = tf.filehandle
                    fh.seek(page.dataoffsets[index])
                    data = fh.read(page.databytecounts[index])
                    page.decode(data, index, jpegtables=page.jpegtables)
                    n_tiles += 1
            elapsed = time.perf_counter() - t
        result["raw_decode"] = {"tiles_per_patch": n_tiles / args.n,
                                "tiles_per_s": n_tiles / elapsed,
                                "patches_per_s": args.n / elapsed}
        for kind in ("openslide", "zarr"):
            reader = open_reader(kind, slides[0].path, slides[0].mpp, cache_mb=64)
            t = time.perf_counter()
            patches = [reader.read_patch(s.x0, s.y0, s.size_px, s.mpp) for s in specs]
            result[f"online_{kind}_patches_per_s"] = args.n / (time.perf_counter() - t)
        crops = MultiCrop(MultiCropConfig())  # 2 × 224 + 8 × 96, the kaiko / DINO recipe
        import torch
        g = torch.Generator().manual_seed(0)
        # As in a DataLoader worker (torch gives each one thread): with more, a loaded
        # machine measures OpenMP spin-waits on these small tensors, not the crops.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        k = min(args.n, 50)
        t = time.perf_counter()
        for p in patches[:k]:
            crops(p, g)
        result["multicrop_patches_per_s"] = k / (time.perf_counter() - t)
        torch.set_num_threads(threads)
    result["torch_threads"] = torch.get_num_threads()
    result["load_avg_1m_5m_15m"] = list(os.getloadavg())  # shared machines
    write_json_atomic(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
