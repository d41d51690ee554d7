"""kaiko.ai's TP53 task: patient-grouped k-fold linear probing of an embedding store with labels and groups.

    pathfm tp53-bench --embeddings results/embeddings/demo-vit-s8/tp53.zarr --protocol kaiko2024 \
        --folds 5 --out results/bench/tp53/tp53/demo-vit-s8.json
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.bench.linear_probe import PROTOCOLS, get_protocol
from pathfm.bench.result import store_provenance, write_result
from pathfm.bench.tp53 import tp53_benchmark
from pathfm.embed.store import open_embedding_store

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", required=True)
    ap.add_argument("--task", default="tp53")
    ap.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS))
    ap.add_argument("--overrides", required=True)
    ap.add_argument("--overrides-name", default=None)
    ap.add_argument("--folds", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = json.loads(args.overrides)
    store = open_embedding_store(args.embeddings)
    for key in ("labels", "group"):
        if key not in store.meta:
            raise SystemExit(f"{args.embeddings}: no {key!r} array; embed a TP53 patch set (kind tp53)")
    res = tp53_benchmark(store.features, store.meta["labels"], store.meta["group"],
                         get_protocol(args.protocol, overrides), args.folds, args.seed)
    write_result(args.out, benchmark="tp53", task=args.task, model=store.attrs.get("model"), protocol=args.protocol,
                 settings={**res["settings"], "overrides": overrides, "overrides_name": args.overrides_name},
                 runs=res["runs"], seeds=res["seeds"], provenance=store_provenance(store),
                 patients_per_fold=res["patients_per_fold"])
    b = res["runs"]["balanced_accuracy"]
    log.info("TP53 balanced accuracy per fold: %s", [round(v, 4) for v in b])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
