"""H0-mini's PLISM figures: robustness across models (Fig. 1) and top-1 accuracy under scanner
versus staining variation (Fig. 4, supplement 7.2). PNG and SVG, written atomically.

Our numbers are bars / filled markers; the paper's (from its supplementary table, the
numbers behind Fig. 1) are hollow black markers on the same axes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pathfm.io import atomic_path  # noqa: E402


def save_figure(fig, stem: str | Path, formats=("png", "svg")) -> list[Path]:
    """``stem.png`` / ``stem.svg`` (or ``stem`` given with a suffix: its siblings)."""
    stem = Path(stem)
    stem = stem.with_suffix("") if stem.suffix in (".png", ".svg") else stem
    out = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def robustness_figure(table: pd.DataFrame, stem: str | Path, title: str = "") -> list[Path]:
    """Fig. 1: per model, cosine similarity (left) and top-1 / top-5 accuracy (right),
    mean ± std over slide pairs; the paper's values as hollow markers. ``table`` is
    :func:`pathfm.report.plism_table.plism_table`'s frame."""
    models = table["Model"].tolist()
    y = np.arange(len(models))
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(models) + 1.6), sharey=True)
    panels = ((axes[0], (("cosine_similarity", "cosine", "tab:blue"),), "Cosine similarity"),
              (axes[1], (("top_1_accuracy", "top-1", "tab:orange"),
                         ("top_5_accuracy", "top-5", "tab:green")), "Top-k accuracy"))
    for ax, metrics, xlabel in panels:
        h = 0.8 / len(metrics)
        for j, (key, label, colour) in enumerate(metrics):
            off = (j - (len(metrics) - 1) / 2) * h
            ax.barh(y + off, table[f"{key}_mean"], h, xerr=table[f"{key}_std"], color=colour,
                    alpha=0.8, label=f"{label} (ours)", error_kw={"lw": 0.8})
            paper = pd.to_numeric(table[f"{key}_paper_mean"], errors="coerce")
            if paper.notna().any():
                ax.scatter(paper, y + off, facecolors="none", edgecolors="black", zorder=3,
                           label=f"{label} (paper)")
        ax.set_xlim(0, 1.05)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_yticks(y, models)
    axes[0].invert_yaxis()
    fig.suptitle(title or "PLISM robustness (mean ± std over slide pairs)")
    return save_figure(fig, stem)


def scanner_vs_staining_figure(frame: pd.DataFrame, stem: str | Path,
                               metric_label: str = "Top-1 accuracy") -> list[Path]:
    """Fig. 4: each model at (inter-scanner, inter-staining) mean top-1 accuracy, with the
    diagonal: models below it are more robust to scanners than to stainings."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(frame["inter_scanner"], frame["inter_staining"], color="tab:purple", zorder=3)
    for row in frame.itertuples(index=False):
        ax.annotate(row.model, (row.inter_scanner, row.inter_staining), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    hi = max(1e-3, float(np.nanmax(frame[["inter_scanner", "inter_staining"]].to_numpy())))
    lim = min(1.0, hi * 1.15)
    ax.plot([0, lim], [0, lim], color="grey", lw=0.8, ls="--")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel(f"{metric_label}, scanner variation (inter-scanner pairs)")
    ax.set_ylabel(f"{metric_label}, staining variation (inter-staining pairs)")
    ax.grid(alpha=0.3)
    return save_figure(fig, stem)
