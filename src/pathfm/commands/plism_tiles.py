"""Matched tile stores for every slide of a PLISM set (same tiles, same ``tile_id`` everywhere).

Raw slides, registered to the reference (one job: the grid keeps only tiles on tissue
in every slide)::

    pathfm plism-tiles --source raw --reference-id GMH_S60 \\
        --slides GMH_S60=results/plism/s/slides/GMH_S60.svs GVH_AT2=results/plism/s/slides/GVH_AT2.svs \\
        --transforms GMH_S60=results/plism/s/transforms/GMH_S60.tfm GVH_AT2=results/plism/s/transforms/GVH_AT2.tfm \\
        --params '{"tile_px": 224, "target_mpp": 0.5, "min_tissue": 0.5}' --out-dir results/plism/s/tiles

The hub's pre-registered tiles (``owkin/plism-dataset`` h5 files), converted as they are::

    pathfm plism-tiles --source hub --reference-id GMH_S60 \\
        --slides GVH_AT2=results/datasets/plism/GVH_AT2_to_GMH_S60.tif.h5 --params '{"tile_px": 224}' --out-dir results/plism/s/tiles

Writes ``{out-dir}/{slide_id}.zarr`` for each slide.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from pathfm.cli import id_path_pairs
from pathfm.params import from_dict
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.plism_tiles import MatchedTilingParams, write_hub_store, write_matched_stores

log = logging.getLogger("plism_tiles")



def tiling_params(text: str) -> MatchedTilingParams:
    values = json.loads(text)
    mask = MaskParams.from_dict(values.pop("mask", {}))
    return from_dict(MatchedTilingParams, {**values, "mask": mask}, "PLISM tiling")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=["raw", "hub"], required=True)
    ap.add_argument("--reference-id", required=True)
    ap.add_argument("--slides", nargs="+", required=True,
                    help="SLIDE_ID=PATH: slides (raw) or hub h5 files (hub)")
    ap.add_argument("--transforms", nargs="*", default=[], help="raw: SLIDE_ID=TFM per slide")
    ap.add_argument("--params", required=True, help="JSON: tile_px, target_mpp, min_tissue, mask")
    ap.add_argument("--expected-tiles", type=int, help="hub: tiles each file must hold")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    slides = id_path_pairs(args.slides, "--slides")
    params = tiling_params(args.params)
    t0 = time.perf_counter()
    if args.source == "hub":
        for slide_id, h5 in slides.items():
            summary = write_hub_store(h5, f"{args.out_dir}/{slide_id}.zarr", slide_id,
                                      args.reference_id, params.tile_px, params.target_mpp,
                                      expected=args.expected_tiles)
            log.info("%s", summary)
        return 0
    transforms = id_path_pairs(args.transforms, "--transforms")
    if set(transforms) != set(slides):
        raise SystemExit(f"--transforms must name the same slides as --slides; differ: "
                         f"{sorted(set(transforms) ^ set(slides))}")
    if args.reference_id not in slides:
        raise SystemExit(f"the reference {args.reference_id} must be among --slides")
    summary = write_matched_stores(slides[args.reference_id],
                                   {s: (p, transforms[s]) for s, p in slides.items()},
                                   args.out_dir, params, reference_id=args.reference_id)
    log.info("%d matched tiles in each of %d slides (%.1f s)", summary["n_tiles"],
             len(summary["slides"]), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
