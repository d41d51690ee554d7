"""ROI retrieval (GPFM weighted votes or plain top-k / majority vote) -> one result JSON."""

import argparse

import numpy as np

from pathfm.bench.retrieval import PROTOCOLS, gpfm_retrieval, plain_retrieval
from pathfm.bench.slide_result import build_result, write_result


def load(path):
    z = np.load(path, allow_pickle=False)
    return np.asarray(z["features"], np.float32), np.asarray(z["labels"]).astype(int)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", required=True, help="npz with features (N, D) and labels (N,)")
    ap.add_argument("--query", required=True, help="npz with features and labels")
    ap.add_argument("--protocol", choices=sorted(PROTOCOLS), default="gpfm")
    ap.add_argument("--n-bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--task", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    (tx, ty), (qx, qy) = load(a.train), load(a.query)
    settings = dict(PROTOCOLS[a.protocol])
    if a.protocol == "gpfm":
        settings["n_bootstrap"] = a.n_bootstrap
        out = gpfm_retrieval(tx, ty, qx, qy, n_bootstrap=a.n_bootstrap, seed=a.seed)
        # runs = bootstrap replicates (GPFM reports their mean); the point value is kept too.
        runs = [{k.replace("_bootstrap", ""): float(v[i]) for k, v in out.items() if k.endswith("_bootstrap")}
                for i in range(a.n_bootstrap)]
        details = {"point": {k: v for k, v in out.items() if not k.endswith("_bootstrap")}}
    else:
        runs, details = [plain_retrieval(tx, ty, qx, qy)], {}
    res = build_result("retrieval", a.task, a.model, a.protocol, settings, runs, [a.seed],
                       {"train": a.train, "query": a.query}, details)
    write_result(a.out, res)
    print({k: v["mean"] for k, v in res["metrics"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
