"""Manifest TSV of a synthetic cohort (slide_id, path, md5, patient, truth_dir).

    pathfm synth-manifest --slides results/slides/demo/*.svs \
        --truth-dirs results/synth/demo/* --out results/manifests/demo.tsv
"""

from __future__ import annotations

import argparse
import logging

from pathfm.cli import setup_logging
from pathfm.manifest import write_manifest
from pathfm.wsi.synth_manifest import synthetic_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", nargs="+", required=True)
    parser.add_argument("--truth-dirs", nargs="+", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    setup_logging()
    df = synthetic_manifest(args.slides, args.truth_dirs)
    write_manifest(df, args.out)
    logging.info("wrote %s with %d slides", args.out, len(df))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
