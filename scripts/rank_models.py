"""Average ranks, Friedman, Nemenyi CD diagram and Wilcoxon vs a reference from result JSONs."""

import argparse
from pathlib import Path

import pandas as pd

from pathfm.bench.slide_result import read_result
from pathfm.io import atomic_path
from pathfm.stats import (cd_diagram, friedman_test, nemenyi_cd, rank_table,
                          wilcoxon_vs_reference)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", nargs="+", required=True, help="result JSONs")
    ap.add_argument("--metric", action="append", required=True,
                    help="BENCHMARK=METRIC, the score ranked for that benchmark (repeatable)")
    ap.add_argument("--reference", help="model for the Wilcoxon tests (default: best ranked)")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--table", required=True, help="output CSV (a .md beside it too)")
    ap.add_argument("--figures", nargs="+", required=True, help="CD diagram paths (.png/.svg)")
    a = ap.parse_args(argv)
    metric_of = dict(m.split("=", 1) for m in a.metric)
    rows = []
    for p in a.results:
        r = read_result(p)
        if r["benchmark"] in metric_of:
            rows.append({"task": f"{r['benchmark']}/{r['task']}", "model": r["model"],
                         "score": r["metrics"][metric_of[r["benchmark"]]]["mean"]})
    scores = pd.DataFrame(rows).pivot(index="task", columns="model", values="score")
    table = rank_table(scores)
    cd = nemenyi_cd(scores.shape[1], scores.shape[0], a.alpha)
    table["cd"] = cd
    if scores.shape[1] >= 3:
        table["friedman_p"] = friedman_test(scores)["pvalue"]
    reference = a.reference or table.index[0]
    wil = wilcoxon_vs_reference(scores, reference).set_index("model")
    table["wilcoxon_p_vs_ref"] = wil["pvalue"].reindex(table.index)
    with atomic_path(a.table) as tmp:
        table.to_csv(tmp)
    with atomic_path(Path(a.table).with_suffix(".md")) as tmp:
        tmp.write_text(table.to_markdown(floatfmt=".3f") + "\n")
    cd_diagram(table["average_rank"], cd, a.figures,
               title=f"{scores.shape[0]} tasks, Nemenyi α={a.alpha}")
    print(table.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
