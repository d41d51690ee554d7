"""HEST-Benchmark regression (PCA-256 + ridge, Pearson over 50 genes) of one embedding store.

    pathfm hest-bench --embeddings results/embeddings/h0-mini/hest-IDC.zarr \
        --task-dir results/datasets/hest/IDC --pooling cls+mean --pca-dim 256 --seed 0 --out results/bench/hest-cls_mean/IDC/h0-mini.json
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from pathfm.bench.hest import HestSettings, check_alignment, hest_benchmark
from pathfm.bench.result import store_provenance, write_result
from pathfm.embed.store import open_embedding_store
from pathfm.sources.datasets import hest

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", required=True)
    ap.add_argument("--task-dir", required=True, help="HEST-bench task folder (var_50genes.json, splits/, …)")
    ap.add_argument("--task", help="task name recorded (default: the folder name)")
    ap.add_argument("--pooling", default=None, help="pooling of the stored embeddings (default the contract's)")
    ap.add_argument("--pca-dim", type=int, required=True)
    ap.add_argument("--alpha", type=float, default=None, help="ridge alpha (default 100 / (d · G), as HEST)")
    ap.add_argument("--extra-genes-file", default=None, help="JSON {genes: [...]} in the task folder, scored apart")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--benchmark", default="hest")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    task_dir = Path(args.task_dir)
    store = open_embedding_store(args.embeddings)
    feats = store.pooled(args.pooling)
    genes = hest.genes(task_dir)
    extra = json.loads((task_dir / args.extra_genes_file).read_text())["genes"] if args.extra_genes_file else []
    folds_df = hest.folds(task_dir)
    samples = {}
    for fold in folds_df:
        for df in fold.values():
            for _, row in df.iterrows():
                samples.setdefault(str(row["sample_id"]), row)
    targets = {}
    for sid, row in samples.items():
        s = hest.load_sample(task_dir, row, genes + extra, in_memory=False)
        check_alignment(store.meta["ids"][store.meta["group"] == sid], s.barcodes, sid)
        targets[sid] = s.targets
    folds = [{k: [str(v) for v in f[k]["sample_id"]] for k in ("train", "test")} for f in folds_df]
    settings = HestSettings(pca_dim=args.pca_dim, alpha=args.alpha, seed=args.seed)
    res = hest_benchmark(feats, np.asarray(store.meta["group"], str), targets, folds, genes, extra, settings)
    write_result(args.out, benchmark=args.benchmark, task=args.task or task_dir.name, model=store.attrs.get("model"),
                 protocol="hest-afd42c3-alpha-used",
                 settings={**settings.to_dict(), "pooling": args.pooling or store.attrs["contract"]["pooling"],
                           "genes": genes, "extra_genes": extra, "per_fold": res["used"]},
                 runs=res["runs"], seeds=[args.seed] * len(folds), provenance=store_provenance(store),
                 per_gene=res["per_gene"], folds=folds)
    log.info("HEST %s: Pearson per fold %s; extra genes %s", task_dir.name, res["runs"]["pearson"],
             res["runs"].get("pearson_extra"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
