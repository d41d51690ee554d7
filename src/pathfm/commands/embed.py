"""Embed a dataset (or tile stores) with a registry model into an embedding store.

    pathfm embed --model demo-vit-s8 --weights results/models/demo-vit-s8/weights.safetensors \
        --kind crc --root results/datasets/crc --out results/embeddings/demo-vit-s8/crc.zarr \
        --dtype float16 --batch-size 64 --workers 2 --shard-size 4096 --autocast auto
    pathfm embed --model h0-mini --kind hest --root results/datasets/hest --task IDC \
        --extra-poolings cls cls+mean --out results/embeddings/h0-mini/hest-IDC.zarr \
        --dtype float16 --batch-size 64 --workers 2 --shard-size 4096 --autocast auto
    pathfm embed --model uni --kind tiles --tiles results/tiles/demo/mpp0.50_px224/*.zarr --out ... \
        --dtype float16 --batch-size 64 --workers 2 --shard-size 4096 --autocast auto

An interrupted run resumes at the last written shard when re-run with the same settings.
"""

from __future__ import annotations

import argparse
import logging

from pathfm.embed import DATASET_KINDS, ExtractSettings, extract_embeddings, open_image_source
from pathfm.io import sha256_file
from pathfm.models.contract import POOLINGS
from pathfm.models.registry import get_entry, load_model, resolve_weights_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model name in the registry")
    ap.add_argument("--registry", help="registry YAML (default config/models.yaml)")
    ap.add_argument("--weights", help="weights file (default: the registry's path; none for random)")
    ap.add_argument("--kind", required=True, choices=DATASET_KINDS)
    ap.add_argument("--root", help="dataset folder")
    ap.add_argument("--task", help="HEST task folder under --root")
    ap.add_argument("--dataset-name", help="name recorded in the store (default: --kind)")
    ap.add_argument("--tiles", nargs="*", default=[], help="tile stores (kind tiles)")
    ap.add_argument("--out", required=True, help="embedding store (.zarr)")
    ap.add_argument("--dtype", required=True, choices=["float16", "float32"])
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--prefetch", type=int, default=4, help="batches prefetched per worker")
    ap.add_argument("--shard-size", type=int, required=True)
    ap.add_argument("--autocast", required=True, choices=["auto", "off", "bf16", "fp16"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--extra-poolings", nargs="*", default=[], choices=POOLINGS,
                    help="also store these poolings of the same tokens (pooled_<name>)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    entry = get_entry(args.model, args.registry)
    weights = args.weights or resolve_weights_path(entry)
    model = load_model(entry, weights=weights)
    source = open_image_source(args.kind, args.root, args.task, args.tiles)
    provenance = {
        "model": entry.name,
        "weights_source": entry.weights.source,
        "weights_path": str(weights) if weights else None,
        "weights_sha256": sha256_file(weights) if weights else None,
        "dataset": {"name": args.dataset_name or args.kind, "task": args.task},
    }
    settings = ExtractSettings(batch_size=args.batch_size, num_workers=args.workers, prefetch_factor=args.prefetch,
                               dtype=args.dtype, shard_size=args.shard_size, autocast=args.autocast,
                               device=args.device, extra_poolings=tuple(args.extra_poolings))
    extract_embeddings(model, entry.contract, source, args.out, settings, provenance)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
