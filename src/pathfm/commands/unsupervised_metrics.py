"""RankMe and ODCorr (kaiko.ai appendix C) of one embedding store; writes one result JSON.

    pathfm unsupervised-metrics --embeddings results/embeddings/demo-vit-s8/crc.zarr --task crc --max-samples 100000 --seed 0 \
        --out results/bench/unsupervised/crc/demo-vit-s8.json
"""

from __future__ import annotations

import argparse
import logging

from pathfm.bench.result import store_provenance, write_result
from pathfm.bench.unsupervised import unsupervised_metrics
from pathfm.embed.store import open_embedding_store

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", required=True)
    ap.add_argument("--task", required=True)
    ap.add_argument("--max-samples", type=int, default=None, help="seeded subsample of at most this many rows")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = open_embedding_store(args.embeddings)
    metrics, info = unsupervised_metrics(store.features, args.max_samples, args.seed)
    write_result(args.out, benchmark="unsupervised", task=args.task, model=store.attrs.get("model"),
                 protocol="kaiko2024-appendix-c", settings={"max_samples": args.max_samples, **info},
                 runs={k: [v] for k, v in metrics.items()}, seeds=[args.seed], provenance=store_provenance(store))
    log.info("%s %s: %s", store.attrs.get("model"), args.task, metrics)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
