"""Slide-benchmark results against their chance levels, with job run times -> table + family summary.

    pathfm slide-bench-summary --results results/bench/*/*/*.json --runtime-root runtime \
        --retrieval-table demo_roi=results/slide_tasks/demo_slides/retrieval.tsv \
        --out results/tables/slide_bench_chance

Writes OUT.csv/.md/.tex (one row per score) and OUT_families.csv/.md/.tex; exits 1 when a
judged score is not above chance (pathfm.stats.chance states each level).
"""

import argparse

import pandas as pd

from pathfm.bench.result import read_result
from pathfm.report.tables import write_table
from pathfm.stats.chance import chance_table, class_shares, family_summary


def retrieval_shares(spec: str) -> tuple[str, tuple[dict, dict]]:
    task, _, path = spec.partition("=")
    df = pd.read_csv(path, sep="\t")
    return task, (class_shares(df.loc[df["split"] == "train", "roi_class"]),
                  class_shares(df.loc[df["split"] == "query", "roi_class"]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", nargs="+", required=True, help="result JSONs (other benchmarks are skipped)")
    ap.add_argument("--runtime-root", default="runtime", help="Snakemake benchmark folder")
    ap.add_argument("--retrieval-table", action="append", default=[],
                    help="TASK=retrieval.tsv (roi_class, split train/query) for plain retrieval's chance")
    ap.add_argument("--out", required=True, help="output stem")
    a = ap.parse_args(argv)
    shares = dict(map(retrieval_shares, a.retrieval_table))
    table = chance_table([read_result(p) for p in a.results], a.runtime_root, shares)
    summary = family_summary(table)
    write_table(table, a.out, caption="Slide-benchmark scores against chance", label="tab:slide_bench_chance")
    write_table(summary, f"{a.out}_families", caption="Slide-benchmark families against chance",
                label="tab:slide_bench_families")
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.to_string(index=False))
        print(summary.to_string(index=False))
    return 0 if table["above"].dropna().all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
