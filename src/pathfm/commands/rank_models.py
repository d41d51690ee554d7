"""Average ranks, Friedman, Nemenyi CD diagram and Wilcoxon vs a reference from result JSONs.

Each --entry names one (benchmark, task, metric) column of the comparison: the
result files of every model for that benchmark and task are read and the metric's
mean is the score ranked (higher is better).

    pathfm rank-models --results results/bench/*/*/*.json \
        --entry slide_classification-gpfm/demo_grade/auc --entry survival-abmil_cox/demo_survival/c_index \
        --table results/tables/gpfm_rank_cd --figures results/figures/gpfm_rank_cd.png results/figures/gpfm_rank_cd.svg --alpha 0.05
"""

import argparse

from pathfm.bench.result import read_result
from pathfm.report.tables import write_table
from pathfm.stats.model_ranking import rank_models


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", nargs="+", required=True, help="result JSONs")
    ap.add_argument("--entry", action="append", required=True,
                    help="BENCHMARK/TASK/METRIC, one ranked score (repeatable)")
    ap.add_argument("--reference", help="model for the Wilcoxon tests (default: best ranked)")
    ap.add_argument("--alpha", type=float, required=True)
    ap.add_argument("--table", required=True, help="output stem: STEM.csv, STEM.md, STEM.tex")
    ap.add_argument("--figures", nargs="+", required=True, help="CD diagram paths (.png/.svg)")
    a = ap.parse_args(argv)
    entries = [tuple(e.split("/", 2)) for e in a.entry]
    bad = [e for e, t in zip(a.entry, entries) if len(t) != 3]
    if bad:
        ap.error(f"--entry must be BENCHMARK/TASK/METRIC: {bad}")
    table, scores = rank_models([read_result(p) for p in a.results], entries, a.alpha, a.reference,
                                a.figures)
    write_table(table.reset_index(), a.table,
                caption=f"Average rank of {scores.shape[1]} models over {scores.shape[0]} benchmark scores "
                        f"(Nemenyi CD at α={a.alpha})", label="tab:gpfm_rank_cd")
    print(scores.to_string())
    print(table.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
