"""Nemenyi critical difference and Demšar's critical-difference diagram.

CD = q_α · sqrt(k (k + 1) / (6 N)) for k models ranked on N tasks, where q_α is
the upper-α quantile of the studentised range for k groups and infinite degrees
of freedom, divided by √2 (Demšar 2006, Table 5). Two models whose average
ranks differ by less than CD are not significantly different; the diagram joins
them with a bar.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import studentized_range

from pathfm.io import atomic_path


def nemenyi_q_alpha(k: int, alpha: float = 0.05) -> float:
    """Demšar's q_α for k models: studentised range quantile (df = ∞) / √2."""
    if k < 2:
        raise ValueError(f"need at least 2 models, got {k}")
    return float(studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


def nemenyi_cd(k: int, n_tasks: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks (units: ranks)."""
    if n_tasks < 1:
        raise ValueError("need at least one task")
    return nemenyi_q_alpha(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n_tasks))


def cliques(avg_ranks: pd.Series, cd: float) -> list[list[str]]:
    """Maximal groups of models (sorted by rank) whose rank span is below ``cd``."""
    r = avg_ranks.sort_values()
    names, vals = list(r.index), r.to_numpy()
    groups: list[list[str]] = []
    for i in range(len(vals)):
        j = i
        while j + 1 < len(vals) and vals[j + 1] - vals[i] < cd:
            j += 1
        if j > i and not any(set(names[i:j + 1]) <= set(g) for g in groups):
            groups.append(names[i:j + 1])
    return groups


def cd_diagram(avg_ranks: pd.Series, cd: float, out_paths: list[str | Path],
               title: str | None = None) -> None:
    """Draw the CD diagram (rank axis, model labels, CD bar, clique bars) to each path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = avg_ranks.sort_values()
    k = len(r)
    lo, hi = 1, max(k, int(math.ceil(r.max())))
    half = (k + 1) // 2
    height = 1.6 + 0.3 * max(half, k - half)
    fig, ax = plt.subplots(figsize=(7, height))
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(0, height)
    ax.axis("off")
    # The axis is drawn reversed (rank 1 on the right), as in Demšar's figures.
    def x(v: float) -> float:
        return hi + lo - v
    axis_y = height - 0.6
    ax.plot([x(lo), x(hi)], [axis_y, axis_y], color="k", lw=1)
    for t in range(lo, hi + 1):
        ax.plot([x(t), x(t)], [axis_y, axis_y + 0.08], color="k", lw=1)
        ax.text(x(t), axis_y + 0.12, str(t), ha="center", va="bottom", fontsize=9)
    ax.plot([x(lo), x(lo + cd)], [height - 0.15] * 2, color="k", lw=2)
    ax.text((x(lo) + x(lo + cd)) / 2, height - 0.12, f"CD = {cd:.2f}", ha="center", va="bottom",
            fontsize=9)
    for i, (name, v) in enumerate(r.items()):
        best_side = i < half
        row = i if best_side else k - 1 - i
        y = axis_y - 0.35 - 0.3 * row
        xe = x(lo) + 0.2 if best_side else x(hi) - 0.2
        ax.plot([x(v), x(v), xe], [axis_y, y, y], color="k", lw=0.8)
        ax.text(xe + (0.05 if best_side else -0.05), y, f"{name} ({v:.2f})", va="center",
                ha="left" if best_side else "right", fontsize=9)
    for j, group in enumerate(cliques(r, cd)):
        y = axis_y - 0.12 - 0.08 * j
        ax.plot([x(r[group[0]]) + 0.03, x(r[group[-1]]) - 0.03], [y, y], color="k", lw=3)
    if title:
        ax.set_title(title, fontsize=10)
    for p in out_paths:
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format=Path(p).suffix.lstrip("."), bbox_inches="tight")
    plt.close(fig)
