"""Tissue mask of one slide: mask.png, tissue.geojson (level-0 px), qc.png, mask.json.

    pathfm mask --slide results/slides/demo/demo_000.svs --slide-id demo_000 \
        --manifest results/manifests/demo.tsv --mpp-policy fallback --params '{"mpp": 4.0}' --out results/masks/demo/demo_000

A slide that cannot be used (not a slide, cut short, no mpp, corrupt pixel data)
exits 1 with one error line naming the file and what to do. The wall time is
logged (stderr, the rule's log), never written into mask.json.
"""

from __future__ import annotations

import argparse
import logging

from pathfm.cli import json_object, setup_logging
from pathfm.manifest import mpp_override, slide_record
from pathfm.wsi.errors import SlideError
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import mask_slide


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slide", required=True, help="slide file")
    parser.add_argument("--slide-id", required=True)
    parser.add_argument("--manifest", help="manifest TSV giving the slide's mpp override, if any")
    parser.add_argument("--mpp-policy", required=True, choices=["fallback", "force"])
    parser.add_argument("--params", type=json_object, required=True, help="MaskParams as JSON")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    setup_logging()
    override = mpp_override(slide_record(args.manifest, args.slide_id)) if args.manifest else None
    try:
        mask_slide(args.slide, args.out, MaskParams.from_dict(args.params),
                   slide_id=args.slide_id, mpp_override=override, mpp_policy=args.mpp_policy)
    except SlideError as exc:
        logging.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
