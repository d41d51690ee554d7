"""Build kaiko.ai's TCGA TP53 patch set: labelled patches drawn from a cohort's tissue tiles.

    pathfm tp53-patch-set --cohort tcga_kaiko_ffpe \
        --manifest results/manifests/tcga_kaiko_ffpe.tsv --labels results/labels/tp53.tsv \
        --masks-dir results/masks/tcga_kaiko_ffpe --mpp-policy fallback \
        --params '{"n_patches": 102400}' --seed 0 --workers 4 --out results/datasets/tp53

Writes patches.h5 and labels.tsv (pathfm.demo_tasks.tp53_like format) atomically. A slide
whose pixels do not decode stops the build (exit 1, naming the file and the fix) unless
the params say on_unreadable: skip, which leaves it out and records it in patches.h5.
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.cli import json_object, setup_logging
from pathfm.sources.tp53_patches import TP53PatchParams, build_tp53_patches
from pathfm.wsi.errors import SlideError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", required=True, help="cohort name, recorded in the output")
    parser.add_argument("--manifest", required=True,
                        help="the cohort's manifest TSV (with a patient column)")
    parser.add_argument("--labels", required=True, help="label TSV (patient, tp53_aberrated)")
    parser.add_argument("--masks-dir", required=True,
                        help="folder of {slide_id}/mask.json and mask.png")
    parser.add_argument("--mpp-policy", required=True, choices=["fallback", "force"])
    parser.add_argument("--params", type=json_object, default={},
                        help="TP53PatchParams as JSON (defaults: the paper's set)")
    parser.add_argument("--seed", type=int, required=True, help="seed of the patch draw")
    parser.add_argument("--workers", type=int, default=1, help="threads computing the tile grids")
    parser.add_argument("--out", required=True, help="dataset folder (written atomically)")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        summary = build_tp53_patches(args.out, args.manifest, args.labels, args.masks_dir,
                                     TP53PatchParams.from_dict(args.params), seed=args.seed,
                                     cohort=args.cohort, mpp_policy=args.mpp_policy,
                                     workers=args.workers)
    except SlideError as exc:
        logging.error("%s", exc)
        return 1
    logging.info("summary %s", json.dumps({k: v.tolist() if hasattr(v, "tolist") else v
                                           for k, v in summary.items() if k != "unreadable"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
