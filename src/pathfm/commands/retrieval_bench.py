"""ROI retrieval (GPFM weighted votes or plain top-k / majority vote) -> one result JSON.

    pathfm retrieval-bench --features results/embeddings/M/slide_tasks/demo_slides.zarr \
        --table results/slide_tasks/demo_slides/retrieval.tsv --protocol gpfm --n-bootstrap 1000 --seed 0 --task demo_roi --model M --out R.json
"""

import argparse

from pathfm.bench.bag_io import features_provenance, read_roi_sets
from pathfm.bench.result import write_result
from pathfm.bench.retrieval import PROTOCOLS, gpfm_retrieval, plain_retrieval


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, nargs="+", help="tile embedding stores (zarr) or npz")
    ap.add_argument("--table", required=True, help="TSV: slide_id, x, y, roi_class, split (train/query)")
    ap.add_argument("--protocol", choices=sorted(PROTOCOLS), default="gpfm")
    ap.add_argument("--n-bootstrap", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--benchmark", help="benchmark name (default retrieval-PROTOCOL)")
    ap.add_argument("--task", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    s = read_roi_sets(a.features, a.table)
    tx, ty, qx, qy = s["train_x"], s["train_y"], s["query_x"], s["query_y"]
    settings = dict(PROTOCOLS[a.protocol]) | {"classes": s["classes"], "n_train": len(ty), "n_query": len(qy)}
    if a.protocol == "gpfm":
        settings["n_bootstrap"] = a.n_bootstrap
        out = gpfm_retrieval(tx, ty, qx, qy, n_bootstrap=a.n_bootstrap, seed=a.seed)
        # runs = bootstrap replicates (GPFM reports their mean); the point value is kept too.
        runs = {k.replace("_bootstrap", ""): [float(x) for x in v] for k, v in out.items()
                if k.endswith("_bootstrap")}
        details = {"point": {k: float(v) for k, v in out.items() if not k.endswith("_bootstrap")}}
    else:
        runs, details = {k: [float(v)] for k, v in plain_retrieval(tx, ty, qx, qy).items()}, {}
    res = write_result(a.out, benchmark=a.benchmark or f"retrieval-{a.protocol}", task=a.task, model=a.model,
                       protocol=a.protocol, settings=settings, runs=runs, seeds=[a.seed],
                       provenance=features_provenance(a.features) | {"table": a.table}, details=details)
    print({k: v["mean"] for k, v in res["metrics"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
