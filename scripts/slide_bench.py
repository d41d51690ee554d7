"""Slide classification (ABMIL) under the eva or GPFM protocol -> one result JSON."""

import argparse


from pathfm.bench.bag_io import load_bags
from pathfm.bench.slide import get_protocol, run_slide_classification
from pathfm.bench.slide_result import build_result, write_result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--features", required=True, help="zarr/npz with features and slide_id")
    ap.add_argument("--table", required=True, help="TSV: slide_id, patient, label column[, split]")
    ap.add_argument("--label", required=True, help="label column (integer classes)")
    ap.add_argument("--protocol", choices=["eva", "gpfm"], default="eva")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--max-tiles", type=int, default=10_000)
    ap.add_argument("--max-epochs", type=int, default=100)
    ap.add_argument("--patience", type=int, default=20)
    ap.add_argument("--task", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    bags, df = load_bags(a.features, a.table)
    protocol = get_protocol(a.protocol, max_tiles=a.max_tiles, max_epochs=a.max_epochs,
                            patience=a.patience)
    split = df["split"].to_numpy() if "split" in df and a.protocol == "eva" else None
    out = run_slide_classification(bags, df[a.label].to_numpy(int), df["patient"].to_numpy(),
                                   protocol, a.seeds, split)
    res = build_result("slide_classification", a.task, a.model, protocol.name, protocol.to_dict(),
                       out["runs"], out["seeds"], {"features": a.features, "table": a.table},
                       {"runs": out["details"], "n_classes": out["n_classes"]})
    write_result(a.out, res)
    print({k: v["mean"] for k, v in res["metrics"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
