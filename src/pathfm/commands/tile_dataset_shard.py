"""Mask and tile one shard of a Camelyon16 / PANDA slide table (eva's sampled tiling per slide).

    pathfm tile-dataset-shard --table results/slide_datasets/camelyon16/slides.tsv \
        --slides-per-job 50 --shard 3 --mask-params '{"mpp": 2.0}' \
        --tiling '{"mpp": 0.25, "tile_px": 224, "min_tissue": 0.35}' --max-tiles 10000 --seed 42 \
        --tiles-out results/slide_datasets/camelyon16/tiles/shard00003 \
        --masks-out results/slide_datasets/camelyon16/masks/shard00003

The shard is slides [shard * n, (shard + 1) * n) of the table, in its order. Writes
TILES_OUT/{slide_id}.zarr and MASKS_OUT/{slide_id}/ per slide and MASKS_OUT/shard.json.
A rerun after a failure skips the slides already finished with the same settings.
"""

from __future__ import annotations

import argparse
import logging
import time

import pandas as pd

from pathfm.cli import json_object, setup_logging
from pathfm.data.slide_shards import shard_of
from pathfm.sources.slide_datasets import tile_dataset_slide, tile_shard
from pathfm.version import code_version


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", required=True, help="slide table (slide_id, path, …) of slide_dataset_table.py")
    ap.add_argument("--slides-per-job", type=int, required=True)
    ap.add_argument("--shard", type=int, required=True)
    ap.add_argument("--mask-params", type=json_object, required=True, help="MaskParams as JSON")
    ap.add_argument("--tiling", type=json_object, required=True, help="TilingParams as JSON")
    ap.add_argument("--max-tiles", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--tiles-out", required=True, help="folder of the shard's tile stores")
    ap.add_argument("--masks-out", required=True, help="folder of the shard's mask folders")
    a = ap.parse_args(argv)
    setup_logging()
    table = pd.read_csv(a.table, sep="\t", dtype={"slide_id": str, "path": str})
    paths = dict(zip(table["slide_id"], table["path"]))
    ids = shard_of(list(table["slide_id"]), a.slides_per_job, a.shard)
    settings = {"mask_params": a.mask_params, "tiling": a.tiling, "max_tiles": a.max_tiles,
                "seed": a.seed, "slides": {s: paths[s] for s in ids}, "code_version": code_version()}

    def tile_one(path, slide_id, mask_dir, store):
        return tile_dataset_slide(path, slide_id, a.mask_params, a.tiling, a.max_tiles, a.seed,
                                  mask_dir, store)

    t0 = time.perf_counter()
    summary = tile_shard([(s, paths[s]) for s in ids], a.tiles_out, a.masks_out, settings, tile_one,
                         log=logging.info)
    logging.info("shard %d of %s: %d slides (%d resumed) in %.1f s", a.shard, a.table,
                 summary["n_slides"], summary["n_resumed"], time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
