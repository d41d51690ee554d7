"""kaiko.ai's and GPFM's figures from benchmark results (PNG + SVG).

- :func:`sweep_figure` (kaiko Figs. 1 and 4, GPFM Fig. 8): one panel per cell, one bar
  per sweep value. The papers plot learning curves over pre-training steps (kaiko) or
  per-task bars from an image (GPFM) with no numbers in the text, so only our final
  values are drawn; rows not run are left out of the bars and named in the title.
- :func:`unsupervised_figure` (kaiko Fig. 6): balanced accuracy vs ODCorr, balanced
  accuracy vs RankMe and RankMe vs ODCorr, one point per (model, task).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pathfm.report.paper_compare import metric_of
from pathfm.report.plism_figures import plt, save_figure


def sweep_values(results: Mapping, rows: Sequence[Mapping], cells: Mapping[str, str]) -> pd.DataFrame:
    """Long frame (row, column, mean, std) of every run cell; rows without a model skipped."""
    out = []
    for row in rows:
        if not row.get("model"):
            continue
        for col, ref in cells.items():
            if not ref:
                continue
            value = metric_of(results, ref, row["model"])
            if value is None:
                raise FileNotFoundError(f"no result for {ref} of model {row['model']!r}")
            out.append({"row": row["label"], "model": row["model"], "column": col,
                        "mean": value[0], "std": value[1]})
    return pd.DataFrame(out, columns=["row", "model", "column", "mean", "std"])


def sweep_figure(values: pd.DataFrame, stem: str | Path, title: str, not_run: Sequence[str] = ()) -> list[Path]:
    columns = list(dict.fromkeys(values["column"])) or ["(nothing run)"]
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3.2), squeeze=False)
    for ax, col in zip(axes[0], columns):
        part = values[values["column"] == col]
        ax.bar(range(len(part)), part["mean"], yerr=part["std"].fillna(0), capsize=3, color="tab:blue")
        ax.set_xticks(range(len(part)), part["row"], rotation=30, ha="right")
        ax.set_title(col)
        ax.set_ylabel("balanced accuracy" if col == columns[0] else "")
    if values.empty:
        axes[0][0].text(0.5, 0.5, "no sweep model configured", ha="center", va="center",
                        transform=axes[0][0].transAxes)
    suffix = f"\nnot run: {', '.join(not_run)}" if not_run else ""
    fig.suptitle(textwrap.fill(title, 90) + suffix, fontsize=9)
    return save_figure(fig, stem)


def unsupervised_values(results: Mapping, models: Sequence[str], tasks: Mapping[str, str]) -> pd.DataFrame:
    """(model, task, balanced_accuracy, odcorr, rankme); ``tasks`` maps an unsupervised
    task to the ``benchmark/task/metric`` of its linear probe."""
    out = []
    for model in models:
        for task, probe in tasks.items():
            acc = metric_of(results, probe, model)
            od = metric_of(results, f"unsupervised/{task}/odcorr", model)
            rk = metric_of(results, f"unsupervised/{task}/rankme", model)
            if acc is None or od is None or rk is None:
                raise FileNotFoundError(f"missing probe or unsupervised result of {model!r} on {task!r}")
            out.append({"model": model, "task": task, "balanced_accuracy": acc[0],
                        "odcorr": od[0], "rankme": rk[0]})
    return pd.DataFrame(out, columns=["model", "task", "balanced_accuracy", "odcorr", "rankme"])


def unsupervised_figure(values: pd.DataFrame, stem: str | Path, title: str) -> list[Path]:
    pairs = [("odcorr", "balanced_accuracy"), ("rankme", "balanced_accuracy"), ("odcorr", "rankme")]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, (x, y) in zip(axes, pairs):
        for (task, model), part in values.groupby(["task", "model"], sort=True):
            ax.scatter(part[x], part[y], label=f"{model} / {task}")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
    if not values.empty:
        axes[-1].legend(fontsize=6, loc="best")
    fig.suptitle(textwrap.fill(title, 120), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, stem)
