"""Slide classification (ABMIL) under the eva or GPFM protocol -> one result JSON.

    pathfm slide-bench --features results/embeddings/demo-vit-s8/slide_tasks/demo_slides.zarr \
        --table results/slide_tasks/demo_slides/labels.tsv --label metastasis --protocol gpfm \
        --task demo_metastasis --model demo-vit-s8 --out results/bench/slide_classification-gpfm/...
"""

import argparse

from pathfm.bench.bag_io import features_provenance, load_bags
from pathfm.bench.result import write_result
from pathfm.bench.runs import runs_by_metric
from pathfm.bench.slide import get_protocol, run_slide_classification


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, nargs="+", help="embedding stores (zarr) or npz files")
    ap.add_argument("--table", required=True, help="TSV: slide_id, patient, label column[, split]")
    ap.add_argument("--label", required=True, help="label column (integer classes)")
    ap.add_argument("--protocol", choices=["eva", "gpfm"], default="eva")
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--max-tiles", type=int, required=True)
    ap.add_argument("--max-epochs", type=int, required=True)
    ap.add_argument("--patience", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True, help="slides per ABMIL step (eva, GPFM 32)")
    ap.add_argument("--overrides-name", required=True, help="name recorded for non-paper settings")
    ap.add_argument("--benchmark", help="benchmark name (default slide_classification-PROTOCOL)")
    ap.add_argument("--task", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    bags, df = load_bags(a.features, a.table)
    protocol = get_protocol(a.protocol, max_tiles=a.max_tiles, max_epochs=a.max_epochs,
                            patience=a.patience, batch_size=a.batch_size)
    split = df["split"].to_numpy() if "split" in df and a.protocol == "eva" else None
    out = run_slide_classification(bags, df[a.label].to_numpy(int), df["patient"].to_numpy(),
                                   protocol, a.seeds, split)
    runs, skipped = runs_by_metric(out["runs"])
    res = write_result(a.out, benchmark=a.benchmark or f"slide_classification-{a.protocol}", task=a.task,
                       model=a.model, protocol=protocol.name,
                       settings=protocol.to_dict() | {"overrides_name": a.overrides_name, "label": a.label},
                       runs=runs, seeds=out["seeds"],
                       provenance=features_provenance(a.features) | {"table": a.table},
                       skipped_runs=skipped, details={"runs": out["details"], "n_classes": out["n_classes"]})
    print({k: v["mean"] for k, v in res["metrics"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
