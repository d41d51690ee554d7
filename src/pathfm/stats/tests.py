"""Significance tests over tasks: Friedman, paired Wilcoxon against a reference model.

``wilcoxon_vs_reference`` is the sound test: one paired observation per task.
``bootstrap_wilcoxon_vs_reference`` reproduces GPFM's published variant, which
pools bootstrap replicates of each task's metric and runs Wilcoxon on them; the
replicates are not independent observations, so its p-values are far too small.
It is kept, labelled, only to compare with the paper's P values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import friedmanchisquare, wilcoxon

BOOTSTRAP_LABEL = "gpfm_bootstrap_wilcoxon (pools bootstrap replicates; inflates significance)"


def friedman_test(scores: pd.DataFrame) -> dict:
    """(tasks × models) -> Friedman chi-square over models with tasks as blocks (k ≥ 3 models)."""
    if scores.shape[1] < 3:
        raise ValueError(f"the Friedman test needs at least 3 models, got {scores.shape[1]}")
    stat, p = friedmanchisquare(*[scores[m].to_numpy(dtype=float) for m in scores.columns])
    return {"test": "friedman", "statistic": float(stat), "pvalue": float(p),
            "n_tasks": int(scores.shape[0]), "n_models": int(scores.shape[1])}


def _holm(pvalues: list[float]) -> list[float]:
    """Holm step-down adjusted p-values, in input order."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adj = np.empty(m)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, (m - i) * p[idx])
        adj[idx] = min(1.0, running)
    return adj.tolist()


def wilcoxon_vs_reference(scores: pd.DataFrame, reference: str,
                          alternative: str = "two-sided") -> pd.DataFrame:
    """Paired Wilcoxon signed-rank of each model against ``reference`` over tasks.

    One row per other model: mean difference (model − reference), statistic,
    p-value and Holm-adjusted p-value. Zero differences follow scipy's default
    ('wilcox': dropped).
    """
    if reference not in scores.columns:
        raise ValueError(f"reference model {reference!r} is not among {list(scores.columns)}")
    rows = []
    for model in scores.columns:
        if model == reference:
            continue
        diff = scores[model].to_numpy(dtype=float) - scores[reference].to_numpy(dtype=float)
        if np.all(diff == 0):
            stat, p = np.nan, 1.0
        else:
            res = wilcoxon(diff, alternative=alternative)
            stat, p = float(res.statistic), float(res.pvalue)
        rows.append({"model": model, "reference": reference, "mean_diff": float(diff.mean()),
                     "statistic": stat, "pvalue": p, "n_tasks": int(len(diff)),
                     "test": "wilcoxon_over_tasks"})
    out = pd.DataFrame(rows)
    if len(out):
        out["pvalue_holm"] = _holm(out["pvalue"].tolist())
    return out


def bootstrap_wilcoxon_vs_reference(replicates: dict[str, dict[str, np.ndarray]], reference: str,
                                    ) -> pd.DataFrame:
    """GPFM's variant: ``replicates[task][model]`` = (B,) bootstrap values of the metric.

    Replicates of a task must be paired across models (same resampled indices).
    All tasks' paired differences are pooled into one Wilcoxon test per model.
    """
    models = sorted({m for per_task in replicates.values() for m in per_task} - {reference})
    rows = []
    for model in models:
        diffs = []
        for task, per_task in replicates.items():
            if model not in per_task or reference not in per_task:
                raise ValueError(f"task {task!r} lacks replicates for {model!r} or {reference!r}")
            a, b = np.asarray(per_task[model], float), np.asarray(per_task[reference], float)
            if a.shape != b.shape:
                raise ValueError(f"task {task!r}: replicate counts differ ({a.shape} vs {b.shape})")
            diffs.append(a - b)
        d = np.concatenate(diffs)
        res = wilcoxon(d) if np.any(d != 0) else None
        rows.append({"model": model, "reference": reference, "mean_diff": float(d.mean()),
                     "statistic": float(res.statistic) if res else np.nan,
                     "pvalue": float(res.pvalue) if res else 1.0, "n_pairs": int(len(d)),
                     "test": BOOTSTRAP_LABEL})
    return pd.DataFrame(rows)
