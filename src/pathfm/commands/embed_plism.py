"""Embed every slide of a PLISM set with one model, loading the model once.

    pathfm embed-plism --model demo-vit-s8 --plism-set demo_plism \\
        --tiles GMH_S60=results/plism/demo_plism/tiles/GMH_S60.zarr … \\
        --out-dir results/embeddings/demo-vit-s8/plism/demo_plism \\
        --dtype float16 --batch-size 64 --workers 1 --shard-size 4096 --autocast auto

Writes ``{out-dir}/{slide_id}.zarr`` per slide (the stores pathfm embed writes for
kind ``tiles``). One process per (model, set) rather than per slide: a PLISM set has
tens of slides of a few hundred tiles, so start-up (imports, model build) would
otherwise dominate. Each store resumes shard by shard, so a rerun skips finished slides.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace
from pathlib import Path

from pathfm.cli import id_path_pairs
from pathfm.embed import ExtractSettings, extract_embeddings, open_image_source
from pathfm.io import sha256_file
from pathfm.models.registry import get_entry, load_model, resolve_weights_path

log = logging.getLogger("embed_plism")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model name in the registry")
    ap.add_argument("--registry", help="registry YAML (default config/models.yaml)")
    ap.add_argument("--weights", help="weights file (default: the registry's path; none for random)")
    ap.add_argument("--plism-set", required=True, help="set name recorded in each store")
    ap.add_argument("--tiles", nargs="+", required=True, metavar="SLIDE_ID=STORE")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--dtype", required=True, choices=["float16", "float32"])
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--shard-size", type=int, required=True)
    ap.add_argument("--autocast", required=True, choices=["auto", "off", "bf16", "fp16"])
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stores = id_path_pairs(args.tiles, "--tiles")
    entry = get_entry(args.model, args.registry)
    weights = args.weights or resolve_weights_path(entry)
    model = load_model(entry, weights=weights)
    weights_sha = sha256_file(weights) if weights else None
    settings = ExtractSettings(batch_size=args.batch_size, num_workers=args.workers,
                               dtype=args.dtype, shard_size=args.shard_size,
                               autocast=args.autocast, device=args.device)
    # Starting a worker costs seconds; a slide of a couple of batches decodes faster inline.
    inline = replace(settings, num_workers=0)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for slide_id, store in stores.items():
        provenance = {
            "model": entry.name,
            "weights_source": entry.weights.source,
            "weights_path": str(weights) if weights else None,
            "weights_sha256": weights_sha,
            "dataset": {"name": f"plism/{args.plism_set}/{slide_id}", "task": None},
        }
        source = open_image_source("tiles", stores=[store])
        small = len(source) <= 2 * args.batch_size
        extract_embeddings(model, entry.contract, source, out_dir / f"{slide_id}.zarr",
                           inline if small else settings, provenance)
    log.info("%d slides embedded in %.1f s", len(stores), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
