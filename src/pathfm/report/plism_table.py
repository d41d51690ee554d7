"""H0-mini's PLISM table (supplement 7.2) from our benchmark results, beside the paper's.

Each result is a :func:`pathfm.bench.plism.robustness_result` JSON. A model is matched
to a published row through ``published_as`` (our model name → the paper's row name);
models the paper does not report get dashes in the published columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pathfm.report.tables import mean_std

TABLE_METRICS = (("cosine_similarity", "Cosine similarity"), ("top_1_accuracy", "Top-1 accuracy"),
                 ("top_5_accuracy", "Top-5 accuracy"))


def load_results(paths: Sequence[str | Path]) -> list[dict]:
    results = []
    for path in paths:
        with open(path) as f:
            result = json.load(f)
        if result.get("benchmark") != "plism":
            raise ValueError(f"{path}: not a PLISM result (benchmark={result.get('benchmark')!r})")
        results.append(result)
    return results


def metric_frame(results: Sequence[Mapping], pair_class: str = "all") -> pd.DataFrame:
    """Long frame: model, pair_class, metric, mean, std, median, iqr, n_pairs."""
    rows = []
    for r in results:
        for metric, s in r["metrics"].get(pair_class, {}).items():
            rows.append({"model": r["model"], "pair_class": pair_class, "metric": metric, **s})
    return pd.DataFrame(rows)


def plism_table(results: Sequence[Mapping], published: pd.DataFrame,
                published_as: Mapping[str, str], pair_class: str = "all") -> pd.DataFrame:
    """One row per model, ordered by our top-1 accuracy: ``mean (std)`` cells, ours and paper.

    Also carries raw numeric columns (``{metric}_mean`` …) for the CSV, so plots and
    checks never parse formatted strings.
    """
    pub = published[published["pair_class"] == pair_class].set_index("model")
    rows = []
    for r in results:
        m = r["metrics"].get(pair_class)
        if m is None:
            raise ValueError(f"result of {r['model']} has no pair class {pair_class!r}")
        name = published_as.get(r["model"])
        row = {"Model": r["model"], "Published as": name or "—"}
        for key, label in TABLE_METRICS:
            row[label] = mean_std(m[key]["mean"], m[key]["std"])
            has_pub = name is not None and name in pub.index
            row[f"{label} (paper)"] = mean_std(pub.loc[name, f"{key}_mean"],
                                               pub.loc[name, f"{key}_std"]) if has_pub else "—"
            row[f"{key}_mean"] = m[key]["mean"]
            row[f"{key}_std"] = m[key]["std"]
            row[f"{key}_paper_mean"] = pub.loc[name, f"{key}_mean"] if has_pub else None
        row["n_pairs"] = m["cosine_similarity"]["n_pairs"]
        row["leaderboard_score"] = r.get("leaderboard_score")
        rows.append(row)
    df = pd.DataFrame(rows)
    return df.sort_values("top_1_accuracy_mean", ascending=False, kind="stable").reset_index(
        drop=True)


def display_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The formatted columns only (Markdown / LaTeX)."""
    keep = ["Model", "Published as"] + [c for _, label in TABLE_METRICS
                                        for c in (label, f"{label} (paper)")]
    return df[keep]


def scanner_vs_staining(results: Sequence[Mapping], metric: str = "top_1_accuracy"
                        ) -> pd.DataFrame:
    """Per model: mean of ``metric`` over inter-scanner and over inter-staining pairs (Fig. 4)."""
    rows = []
    for r in results:
        m = r["metrics"]
        if "inter_scanner" not in m or "inter_staining" not in m:
            raise ValueError(f"{r['model']}: the set needs ≥ 2 scanners and ≥ 2 stainings")
        rows.append({"model": r["model"], "inter_scanner": m["inter_scanner"][metric]["mean"],
                     "inter_staining": m["inter_staining"][metric]["mean"]})
    return pd.DataFrame(rows)
