"""Chance levels of the slide-benchmark metrics, and whether each result clears them.

A score is "above chance" when its mean beats what a predictor without
information would reach on the same task:

- AUC, C-index: 0.5 (random scores).
- balanced accuracy: 1/K (K classes, any constant or random predictor).
- GPFM retrieval top-k (a ranking of the K classes, macro): k/K (random ranking).
- plain retrieval top-k (any of k nearest training ROIs shares the query's class,
  micro): sum_c q_c (1 - (1 - p_c)^k) with query and training class shares q, p
  (neighbours drawn at random); majority vote: max_c q_c (the majority class).
- Dice without background: 0 (an all-background / majority predictor).

Metrics without a stated level here (accuracy, weighted F1) are reported but not judged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

# benchmark prefix -> runtime folder of its rule (runtime/{rule}/{variant/}{task}/{model}.tsv)
RUNTIME_RULES = {"slide_classification": "slide_classification", "survival": "survival_bench",
                 "retrieval": "retrieval_bench", "segmentation": "segmentation_bench"}


def family(benchmark: str) -> str:
    return benchmark.split("-", 1)[0]


def class_shares(labels: Iterable) -> dict:
    s = pd.Series(list(labels)).value_counts(normalize=True)
    return {str(k): float(v) for k, v in s.items()}


def chance_level(result: Mapping, metric: str, retrieval_shares: tuple[dict, dict] | None = None
                 ) -> float | None:
    """Chance level of ``metric`` for ``result``; None when not defined (see the module docstring).

    ``retrieval_shares`` = (training class shares, query class shares), needed by plain retrieval.
    """
    fam, name = family(result["benchmark"]), result["protocol"]["name"]
    if metric in ("auc", "c_index"):
        return 0.5
    if fam == "slide_classification" and metric == "balanced_accuracy":
        return 1.0 / int(result["details"]["n_classes"])
    if fam == "segmentation" and metric.startswith("dice_"):
        return 0.0
    top = re.fullmatch(r"top(\d+)_acc", metric)
    if fam == "retrieval" and name == "gpfm" and top:
        n_classes = len(result["protocol"]["settings"]["classes"])
        return min(int(top.group(1)), n_classes) / n_classes
    if fam == "retrieval" and name == "plain" and retrieval_shares is not None:
        train, query = retrieval_shares
        if top:
            k = int(top.group(1))
            return float(sum(q * (1 - (1 - train.get(c, 0.0)) ** k) for c, q in query.items()))
        if re.fullmatch(r"mv\d+_acc", metric):
            return max(query.values())
    return None


def runtime_seconds(result: Mapping, runtime_root: str | Path) -> float | None:
    """Wall seconds of the job that wrote ``result`` (its Snakemake benchmark file), if present."""
    bench = result["benchmark"]
    fam, _, variant = bench.partition("-")
    rule = RUNTIME_RULES.get(fam)
    if rule is None:
        return None
    parts = [rule] + ([variant] if variant else []) + [result["task"], f"{result['model']}.tsv"]
    path = Path(runtime_root).joinpath(*parts)
    if not path.is_file():
        return None
    return float(pd.read_csv(path, sep="\t")["s"].iloc[-1])


def chance_table(results: Iterable[Mapping], runtime_root: str | Path | None = None,
                 retrieval_shares: Mapping[str, tuple[dict, dict]] | None = None) -> pd.DataFrame:
    """One row per (benchmark, task, model, metric): score, chance, margin, above, runtime_s.

    ``retrieval_shares``: task -> (training, query) class shares for plain retrieval.
    """
    rows = []
    for r in results:
        if family(r["benchmark"]) not in RUNTIME_RULES:
            continue
        seconds = runtime_seconds(r, runtime_root) if runtime_root else None
        shares = (retrieval_shares or {}).get(r["task"])
        for metric, value in sorted(r["metrics"].items()):
            chance = chance_level(r, metric, shares)
            score = float(value["mean"])
            rows.append({"family": family(r["benchmark"]), "benchmark": r["benchmark"], "task": r["task"],
                         "model": r["model"], "metric": metric, "score": score, "chance": chance,
                         "margin": None if chance is None else score - chance,
                         "above": None if chance is None else bool(score > chance),
                         "runtime_s": seconds})
    return pd.DataFrame(rows, columns=["family", "benchmark", "task", "model", "metric", "score", "chance",
                                       "margin", "above", "runtime_s"])


def family_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per family: judged scores, how many are above chance, the smallest margin, job seconds."""
    judged = table.dropna(subset=["chance"])
    jobs = table.drop_duplicates(["benchmark", "task", "model"])
    out = pd.DataFrame({
        "scores_judged": judged.groupby("family").size(),
        "above_chance": judged.groupby("family")["above"].sum().astype(int),
        "min_margin": judged.groupby("family")["margin"].min(),
        "jobs": jobs.groupby("family").size(),
        "runtime_s_total": jobs.groupby("family")["runtime_s"].sum(min_count=1),
        "runtime_s_per_job": jobs.groupby("family")["runtime_s"].mean(),
    })
    return out.reset_index().replace({np.nan: None})
