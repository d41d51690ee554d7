"""Per-task ranks of models and their average across tasks (GPFM's "average rank").

Scores form a (tasks × models) table; rank 1 is the best model of a task and
tied models share the mean of the ranks they span (Demšar 2006), so the ranks
of a task always sum to k(k+1)/2 for k models.
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import rankdata


def _check(scores: pd.DataFrame) -> None:
    if scores.isna().any().any():
        missing = [(t, m) for t in scores.index for m in scores.columns if pd.isna(scores.loc[t, m])]
        raise ValueError(f"score table has missing (task, model) cells: {missing[:5]}; every model "
                         "must be evaluated on every task before ranking")


def task_ranks(scores: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    """(tasks × models) scores -> (tasks × models) ranks, 1 = best, ties averaged."""
    _check(scores)
    values = scores.to_numpy(dtype=float)
    ranks = rankdata(-values if higher_is_better else values, axis=1, method="average")
    return pd.DataFrame(ranks, index=scores.index, columns=scores.columns)


def average_ranks(scores: pd.DataFrame, higher_is_better: bool = True) -> pd.Series:
    """Mean rank of each model over tasks, sorted best first."""
    return task_ranks(scores, higher_is_better).mean(axis=0).sort_values()


def rank_table(scores: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    """One row per model: average rank, number of first places, mean score; best first."""
    ranks = task_ranks(scores, higher_is_better)
    out = pd.DataFrame({
        "average_rank": ranks.mean(axis=0),
        "n_first": (ranks == 1.0).sum(axis=0).astype(int),
        "mean_score": scores.mean(axis=0),
        "n_tasks": ranks.notna().sum(axis=0).astype(int),
    })
    out.index.name = "model"
    return out.sort_values("average_rank")
