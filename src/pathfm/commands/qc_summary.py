"""QC sheet and table of a cohort: mask overlays, tile counts, mask IoU against synthetic truth.

    pathfm qc-summary --cohort demo --manifest results/manifests/demo.tsv \
        --masks results/masks/demo/*/mask.json --tiles results/tiles/demo/*/*.zarr \
        --png results/qc/demo/summary.png --tsv results/qc/demo/summary.tsv
"""

from __future__ import annotations

import argparse
import logging

from pathfm.cli import setup_logging
from pathfm.data.slide_shards import expand_markers
from pathfm.manifest import read_manifest
from pathfm.wsi.qc_summary import cohort_qc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--masks", nargs="+", required=True,
                        help="mask.json files, or shard markers (.shard.json) listing them")
    parser.add_argument("--tiles", nargs="*", default=[],
                        help="tile stores (.zarr), or shard markers listing them")
    parser.add_argument("--png", required=True)
    parser.add_argument("--tsv", required=True)
    args = parser.parse_args(argv)
    setup_logging()
    table = cohort_qc(args.cohort, read_manifest(args.manifest), expand_markers(args.masks),
                      expand_markers(args.tiles), args.png, args.tsv)
    logging.info("QC of %s:\n%s", args.cohort, table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
