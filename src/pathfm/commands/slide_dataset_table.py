"""Slide table of a Camelyon16 or PANDA download (slide_id, patient, path, split, label) -> TSV.

    pathfm slide-dataset-table --dataset camelyon16 --root results/datasets/camelyon16 \
        --out results/slide_datasets/camelyon16/slides.tsv
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pathfm.cli import setup_logging
from pathfm.sources.slide_datasets import LOADERS, slide_table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, choices=sorted(LOADERS))
    ap.add_argument("--root", required=True, help="dataset folder in the layout its loader documents")
    ap.add_argument("--out", required=True, help="TSV to write")
    a = ap.parse_args(argv)
    setup_logging()
    df = slide_table(a.dataset, a.root)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(a.out, sep="\t", index=False)
    logging.info("%s: %d slides, splits %s", a.dataset, len(df), df["split"].value_counts().to_dict())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
