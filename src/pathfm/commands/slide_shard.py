"""Run one per-slide step (download, mask or tiles) for a shard of a cohort's slides.

    pathfm slide-shard --step mask --cohort tcga_h0mini \
        --manifest results/manifests/tcga_h0mini.tsv --slides-per-job 50 --shard 3 \
        --params '{"mpp": 2.0}' --out results/masks/tcga_h0mini/shards/shard00003.shard.json

The shard is slides [shard * n, (shard + 1) * n) of the manifest, in its order.
Per-slide outputs go where the per-slide rules put them; the marker lists them.
A rerun after a failure skips the slides already finished with the same settings.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from pathfm.cli import json_object, setup_logging
from pathfm.data.slide_shards import run_shard, shard_of
from pathfm.io.atomic import write_json_atomic
from pathfm.manifest import mpp_override, read_manifest
from pathfm.sources.download import (add_deadline_option, deadline_seconds, download_file,
                                     download_record)
from pathfm.sources.gdc import GDC_API
from pathfm.sources.http import token_from_env
from pathfm.version import code_version
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import mask_slide
from pathfm.wsi.tile_slide import tile_slide
from pathfm.wsi.tiling import TilingParams


def _slide(cohort: str, slide_id: str) -> Path:
    return Path("results/slides") / cohort / f"{slide_id}.svs"


def _mask_dir(cohort: str, slide_id: str) -> Path:
    return Path("results/masks") / cohort / slide_id


def make_step(args, rows):
    """The step as a function slide_id -> output paths (primary output first)."""
    if args.step == "download":
        token = token_from_env("GDC_TOKEN")

        def download(slide_id):
            row = rows[slide_id]
            size = row.get("size")
            size = int(size) if size not in (None, "") and str(size) != "nan" else None
            result = download_file(f"{args.api.rstrip('/')}/data/{row['file_id']}", row["path"],
                                   md5=row["md5"], size=size, token=token,
                                   deadline_s=deadline_seconds(args.deadline_hours))
            report = Path(row["path"]).with_suffix(".download.json")
            write_json_atomic(report, download_record(result))
            return [row["path"], report]

        return download
    if args.step == "mask":
        params = MaskParams.from_dict(args.params)

        def mask(slide_id):
            out = _mask_dir(args.cohort, slide_id)
            mask_slide(_slide(args.cohort, slide_id), out, params, slide_id=slide_id,
                       mpp_override=mpp_override(rows[slide_id]), mpp_policy=args.mpp_policy)
            return [out / name for name in ("mask.json", "mask.png", "tissue.geojson", "qc.png")]

        return mask
    params = TilingParams.from_dict(args.params)

    def tiles(slide_id):
        store = Path("results/tiles") / args.cohort / params.name / f"{slide_id}.zarr"
        tile_slide(_slide(args.cohort, slide_id), _mask_dir(args.cohort, slide_id), store, params,
                   slide_id=slide_id, mpp_override=mpp_override(rows[slide_id]),
                   mpp_policy=args.mpp_policy)
        return [store]

    return tiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", required=True, choices=["download", "mask", "tiles"])
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--slides-per-job", type=int, required=True)
    parser.add_argument("--shard", type=int, required=True)
    parser.add_argument("--params", type=json_object, default={},
                        help="MaskParams (mask) or TilingParams (tiles) as JSON")
    parser.add_argument("--mpp-policy", default="fallback", choices=["fallback", "force"])
    parser.add_argument("--api", default=GDC_API, help="GDC API base URL (download)")
    parser.add_argument("--out", required=True, help="shard marker (.shard.json)")
    add_deadline_option(parser)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    setup_logging()
    manifest = read_manifest(args.manifest)
    slides = shard_of(list(manifest["slide_id"]), args.slides_per_job, args.shard)
    rows = {r["slide_id"]: r for _, r in manifest[manifest["slide_id"].isin(slides)].iterrows()}
    # What makes a finished slide reusable by a rerun: the step, its parameters and the
    # code (a changed md5 in the manifest re-downloads through download_file's own check).
    settings = {"step": args.step, "params": args.params, "mpp_policy": args.mpp_policy,
                "code_version": code_version()}
    summary = run_shard(args.out, slides, settings, make_step(args, rows), log=logging.info)
    logging.info("%s shard %d of %s: %d slides (%d resumed) in %.1f s", args.step, args.shard,
                 args.cohort, summary["n_slides"], summary["n_resumed"], time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
