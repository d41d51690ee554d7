"""The registry of paper tables and figures built by ``scripts/paper_table.py``.

One entry per target: its kind (what the script builds; figure kinds also draw a
chart). ``workflow/rules/paper_tables*.smk`` and the config checks read it, so a
target is declared here once.
"""

from __future__ import annotations

# Target -> kind. "figure" targets are sweep tables drawn as bars.
TABLE_KINDS: dict[str, str] = {
    "h0mini_table1_hest": "table",
    "h0mini_table2_eva": "table",
    "h0mini_distilled_vs_scratch": "table",
    "kaiko_table1_linear_probe": "table",
    "kaiko_table8_linear_probe_std": "table",
    "kaiko_table2_magnification": "table",
    "kaiko_table3_wsi_fraction": "table",
    "kaiko_table4_distinct_patches": "table",
    "kaiko_fig1_init": "figure",
    "kaiko_fig4_dino_vs_dinov2": "figure",
    "kaiko_fig6_unsupervised": "unsupervised",
    "gpfm_fig8_expert_distillation": "distillation",
}
PAPERS = ("h0mini", "kaiko", "gpfm")


def figure_targets() -> list[str]:
    return [t for t, kind in TABLE_KINDS.items() if kind != "table"]


def paper_of(target: str) -> str:
    return target.split("_", 1)[0]
