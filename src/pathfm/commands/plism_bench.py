"""PLISM robustness of one model over one set: cosine and top-k on every slide pair.

Example::

    pathfm plism-bench --model demo-h0-mini --plism-set demo_plism \\
        --embeddings GMH_S60=results/embeddings/demo-h0-mini/plism/demo_plism/GMH_S60.zarr … \\
        --tiles GMH_S60=results/plism/demo_plism/tiles/GMH_S60.zarr … \\
        --settings '{"dtype": "float16", "top_k": [1, 3, 5, 10], "rank_rule": "strict"}' --leaderboard-k 10 \\
        --out results/bench/plism/demo_plism/demo-h0-mini.json

The result (benchmark, task, model, protocol and resolved settings, metrics per pair
class, leaderboard score, per-pair rows, provenance) is written atomically.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from pathfm.bench.plism import (
    PlismMetricSettings,
    evaluate_pairs,
    matched_feature_loader,
    robustness_result,
    slide_pairs,
)
from pathfm.cli import id_path_pairs
from pathfm.io import write_json_atomic
from pathfm.params import from_dict
from pathfm.version import code_version

log = logging.getLogger("plism_bench")



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--plism-set", required=True)
    ap.add_argument("--embeddings", nargs="+", required=True, help="SLIDE_ID=embedding store")
    ap.add_argument("--tiles", nargs="+", required=True, help="SLIDE_ID=tile store (tile ids)")
    ap.add_argument("--settings", required=True, help="JSON of PlismMetricSettings fields")
    ap.add_argument("--pooling", help="a stored extra pooling instead of the contract's")
    ap.add_argument("--leaderboard-k", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    values = json.loads(args.settings)
    if "top_k" in values:
        values["top_k"] = tuple(values["top_k"])
    settings = from_dict(PlismMetricSettings, values, "PLISM metric")
    embeddings = id_path_pairs(args.embeddings, "--embeddings")
    tiles = id_path_pairs(args.tiles, "--tiles")
    load, tile_ids = matched_feature_loader(embeddings, tiles, args.pooling)
    names = list(embeddings)  # command-line order: staining-major, as the config lists them
    todo = slide_pairs(names)
    log.info("%s on %s: %d slides, %d tiles, %d pairs", args.model, args.plism_set, len(names),
             len(tile_ids), len(todo))
    t0 = time.perf_counter()
    step = max(1, len(todo) // 20)
    rows = evaluate_pairs(load, todo, settings, progress=lambda i, n: (
        log.info("pair %d/%d", i, n) if i % step == 0 or i == n else None))
    provenance = {"embeddings": embeddings, "tiles": tiles, "n_tiles": int(len(tile_ids)),
                  "pooling": args.pooling, "code_version": code_version()}
    log.info("%d pairs in %.1f s", len(todo), time.perf_counter() - t0)
    result = robustness_result(args.model, args.plism_set, rows, settings, provenance,
                               args.leaderboard_k)
    write_json_atomic(args.out, result)
    log.info("cosine %.3f, top-1 %.3f, leaderboard %s", result["metrics"]["all"]
             ["cosine_similarity"]["mean"], result["metrics"]["all"]["top_1_accuracy"]["mean"],
             result["leaderboard_score"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
