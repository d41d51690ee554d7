"""Tile one slide at an exact mpp into a zarr tile store (coordinates, tissue fraction, pixels).

    pathfm tiles --slide results/slides/demo/demo_000.svs --slide-id demo_000 \
        --mask-dir results/masks/demo/demo_000 --mpp-policy fallback --params '{"mpp": 0.5, "tile_px": 224}' \
        --out results/tiles/demo/mpp0.50_px224/demo_000.zarr
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.cli import json_object, setup_logging
from pathfm.manifest import mpp_override, slide_record
from pathfm.wsi.tile_slide import tile_slide
from pathfm.wsi.tiling import TilingParams


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slide", required=True)
    parser.add_argument("--slide-id", required=True)
    parser.add_argument("--mask-dir", required=True, help="output folder of pathfm mask")
    parser.add_argument("--manifest", help="manifest TSV giving the slide's mpp override, if any")
    parser.add_argument("--mpp-policy", required=True, choices=["fallback", "force"])
    parser.add_argument("--params", type=json_object, required=True, help="TilingParams as JSON")
    parser.add_argument("--out", required=True, help="zarr store to write")
    args = parser.parse_args(argv)
    setup_logging()
    override = mpp_override(slide_record(args.manifest, args.slide_id)) if args.manifest else None
    summary = tile_slide(args.slide, args.mask_dir, args.out, TilingParams.from_dict(args.params),
                         slide_id=args.slide_id, mpp_override=override,
                         mpp_policy=args.mpp_policy)
    logging.info("summary %s", json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
