"""Render one small demo task dataset in its real on-disk format.

    pathfm build-demo-dataset --dataset crc --out results/datasets/crc --seed 0 --params '{}'
    pathfm build-demo-dataset --dataset hest --out results/datasets/hest --seed 0 \
        --params '{"n_patients": 3}'

Datasets: bach, crc, mhist, pcam (eva layouts), hest (HEST-bench layout), tp53 (patch set).
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from pathfm.demo_tasks import BUILDERS

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, choices=sorted(BUILDERS))
    ap.add_argument("--out", required=True, help="dataset folder (written atomically)")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--params", required=True, help="JSON of extra builder keyword arguments")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    summary = BUILDERS[args.dataset](args.out, seed=args.seed, **json.loads(args.params))
    log.info("built %s in %.1f s: %s", args.out, time.perf_counter() - t0, json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
