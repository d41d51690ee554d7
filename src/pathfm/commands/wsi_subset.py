"""Write the seeded WSI subset of a cohort manifest (kaiko Table III data-size ablation).

    pathfm wsi-subset --manifest results/manifests/demo.tsv --fraction 0.3 --seed 0 \
        --out results/models/RUN/wsi_subset/demo.tsv --record results/models/RUN/wsi_subset/demo.json
"""

from __future__ import annotations

import argparse

from pathfm.cli import setup_logging
from pathfm.data.wsi_subset import write_subset


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True, help="cohort manifest (TSV)")
    ap.add_argument("--fraction", type=float, required=True, help="share of slides kept, (0, 1]")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True, help="subset manifest (TSV)")
    ap.add_argument("--record", required=True, help="JSON: fraction, seed, counts, slide ids")
    args = ap.parse_args(argv)
    setup_logging()
    chosen = write_subset(args.manifest, args.fraction, args.seed, args.out, args.record)
    print(f"{len(chosen)} slides: {' '.join(chosen)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
