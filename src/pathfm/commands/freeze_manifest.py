"""Use a committed (frozen) GDC manifest for a cohort instead of querying the API.

    pathfm freeze-manifest --cohort tcga_h0mini --manifest config/manifests/x.tsv \
        --slides-root results/slides --out results/manifests/tcga_h0mini.tsv
"""

from __future__ import annotations

import argparse
import logging

from pathfm.cli import setup_logging
from pathfm.manifest import read_manifest, rebase_paths, write_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--manifest", required=True, help="frozen manifest TSV")
    parser.add_argument("--slides-root", default="results/slides")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    setup_logging()
    df = rebase_paths(read_manifest(args.manifest), args.slides_root, args.cohort)
    write_manifest(df, args.out)
    logging.info("froze %s: %d slides from %s", args.cohort, len(df), args.manifest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
