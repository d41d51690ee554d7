"""Mask and tile one Camelyon16 / PANDA slide the eva way: grid at mpp, foreground filter, seeded cap.

    pathfm tile-dataset-slide --slide S.tif --slide-id tumor_001 \
        --mask-params '{"mpp": 2.0}' --tiling '{"mpp": 0.25, "tile_px": 224, "min_tissue": 0.35}' \
        --max-tiles 10000 --seed 42 --mask-out masks/tumor_001 --out tiles/tumor_001.zarr

The workflow tiles runs of slides with pathfm tile-dataset-shard (same steps per slide).
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.cli import json_object, setup_logging
from pathfm.sources.slide_datasets import tile_dataset_slide


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slide", required=True)
    ap.add_argument("--slide-id", required=True)
    ap.add_argument("--mask-params", type=json_object, default={}, help="MaskParams as JSON")
    ap.add_argument("--tiling", type=json_object, default={}, help="TilingParams as JSON (pixels are read for the drawn tiles only)")
    ap.add_argument("--max-tiles", type=int, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mask-out", required=True, help="mask folder (mask.png, mask.json, qc.png, …)")
    ap.add_argument("--out", required=True, help="tile store to write")
    a = ap.parse_args(argv)
    setup_logging()
    summary = tile_dataset_slide(a.slide, a.slide_id, a.mask_params, a.tiling, a.max_tiles, a.seed,
                                 a.mask_out, a.out)
    logging.info("summary %s", json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
