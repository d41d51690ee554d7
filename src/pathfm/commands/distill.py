"""Distil a model (H0-mini from a frozen teacher, or GPFM from frozen experts) on tile stores.

    pathfm distill --config '{"method": "h0mini", "student": "demo-h0-mini", ...}' \
        --manifest results/manifests/demo.tsv --tiles-dir results/tiles/demo/mpp0.50_px224 \
        --out-dir results/train/demo-h0-mini --export-dir results/models/demo-h0-mini

Multi-GPU: ``pathfm launch --gpus 8 -- distill ...``. A
SIGTERM checkpoints and exits 75; rerunning the same command resumes.
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.cli import json_object, setup_logging
from pathfm.train.distill_entry import distill_from_tiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=json_object, required=True,
                        help="run config as JSON (method h0mini | gpfm; pathfm.train.distill_config)")
    parser.add_argument("--manifest", required=True, help="manifest TSV: the slides to train on")
    parser.add_argument("--tiles-dir", required=True, help="folder of {slide_id}.zarr tile stores")
    parser.add_argument("--slides-dir", help="folder of {slide_id}.svs, for stores without pixels")
    parser.add_argument("--out-dir", required=True, help="checkpoints and log.jsonl")
    parser.add_argument("--export-dir", required=True, help="weights.safetensors + card.yaml")
    parser.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    args = parser.parse_args(argv)
    setup_logging()
    result = distill_from_tiles(args.config, args.manifest, args.tiles_dir, args.out_dir,
                                args.export_dir, args.slides_dir, resume=not args.no_resume)
    logging.info("result %s", json.dumps({k: str(v) for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
