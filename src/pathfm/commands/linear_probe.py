"""eva linear probing of one embedding store under a named protocol; writes one result JSON.

    pathfm linear-probe --embeddings results/embeddings/demo-vit-s8/crc.zarr --task crc \
        --protocol kaiko2024 --out results/bench/linear_probe-kaiko2024/crc/demo-vit-s8.json \
        --protocol eva --out results/bench/linear_probe-eva/crc/demo-vit-s8.json \
        --overrides '{"kaiko2024": {"max_steps": 400}}' --overrides-name demo --seed 0

--protocol / --out pairs run in order on one loaded store (one job, several result files).
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.bench.linear_probe import PROTOCOLS, get_protocol, linear_probe
from pathfm.bench.result import store_provenance, write_result
from pathfm.embed.store import open_embedding_store

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", required=True)
    ap.add_argument("--task", required=True, help="task name (selects eva's per-task patience)")
    ap.add_argument("--protocol", required=True, action="append", choices=sorted(PROTOCOLS))
    ap.add_argument("--out", required=True, action="append", help="result JSON, one per --protocol")
    ap.add_argument("--overrides", required=True, help="JSON {protocol: {setting: value}} of overrides")
    ap.add_argument("--overrides-name", default=None, help="name recorded for the overrides (e.g. demo)")
    ap.add_argument("--seed", type=int, required=True, help="seed of run 0; run r uses seed + r")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(args.protocol) != len(args.out):
        ap.error("give one --out per --protocol")
    all_overrides = json.loads(args.overrides)
    store = open_embedding_store(args.embeddings)
    if "labels" not in store.meta or "split" not in store.meta:
        raise SystemExit(f"{args.embeddings}: no labels/split arrays; not a labelled dataset")
    for name, out in zip(args.protocol, args.out):
        overrides = all_overrides.get(name, {})
        res = linear_probe(store.features, store.meta["labels"], store.meta["split"], get_protocol(name, overrides),
                           args.task, args.seed)
        obj = write_result(out, benchmark=f"linear_probe-{name}", task=args.task, model=store.attrs.get("model"),
                           protocol=name, settings={**res["settings"], "overrides": overrides,
                                                    "overrides_name": args.overrides_name if overrides else None},
                           runs=res["runs"], seeds=res["seeds"], provenance=store_provenance(store), n=res["n"])
        m = obj["metrics"]["balanced_accuracy"]
        log.info("%s %s %s: balanced accuracy %.4f ± %.4f over %d runs", obj["model"], args.task, name,
                 m["mean"], m["std"], len(m["runs"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
