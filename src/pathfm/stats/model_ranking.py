"""GPFM-style comparison of models over many benchmark scores: the rank table and CD diagram.

A comparison is a list of (benchmark, task, metric) entries; each is one row
of the (scores × models) table, read from the benchmark result files
(``pathfm.bench.result``). Every score is higher-is-better (AUC, balanced
accuracy, C-index, Dice, top-k accuracy, Pearson r); the caller picks the entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from pathfm.stats.critical_difference import cd_diagram, nemenyi_cd
from pathfm.stats.ranks import rank_table
from pathfm.stats.tests import friedman_test, wilcoxon_vs_reference


def score_table(results: Iterable[Mapping], entries: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    """Result dicts -> (entries × models) mean scores, rows named ``benchmark/task/metric``.

    An entry no result provides, or a metric a result lacks, is an error naming it;
    results not named by an entry are ignored.
    """
    wanted = {(b, t): [m for bb, tt, m in entries if (bb, tt) == (b, t)] for b, t, _ in entries}
    cells: dict[str, dict[str, float]] = {}
    for r in results:
        for metric in wanted.get((r["benchmark"], r["task"]), []):
            if metric not in r["metrics"]:
                raise ValueError(f"result {r['benchmark']}/{r['task']}/{r['model']} has no metric {metric!r}"
                                 f" (it has {sorted(r['metrics'])})")
            cells.setdefault(f"{r['benchmark']}/{r['task']}/{metric}", {})[r["model"]] = \
                float(r["metrics"][metric]["mean"])
    rows = ["/".join(e) for e in entries]
    missing = [row for row in rows if row not in cells]
    if missing:
        raise ValueError(f"no result provides {missing}; build those benchmarks first")
    return pd.DataFrame.from_dict(cells, orient="index").loc[rows]


def rank_models(results: Iterable[Mapping], entries: Sequence[tuple[str, str, str]], alpha: float = 0.05,
                reference: str | None = None,
                figures: Sequence[str | Path] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """-> (one row per model: average rank, firsts, mean score, CD, Friedman p, Wilcoxon p vs
    the reference (default the best ranked), Holm-adjusted; the score table). Draws the CD
    diagram to ``figures``."""
    scores = score_table(results, entries)
    n_scores, k = scores.shape
    if k < 2:
        raise ValueError(f"ranking needs at least 2 models, the results hold {list(scores.columns)}")
    table = rank_table(scores)
    cd = nemenyi_cd(k, n_scores, alpha)
    table["cd"] = cd
    table["friedman_p"] = friedman_test(scores)["pvalue"] if k >= 3 else float("nan")
    reference = reference or str(table.index[0])
    wil = wilcoxon_vs_reference(scores, reference).set_index("model")
    table["wilcoxon_p_vs_ref"] = wil["pvalue"].reindex(table.index)
    table["wilcoxon_p_holm"] = wil["pvalue_holm"].reindex(table.index)
    table["reference"] = reference
    if figures:
        cd_diagram(table["average_rank"], cd, list(figures),
                   title=f"{n_scores} scores, {k} models, Nemenyi α={alpha}")
    return table, scores
