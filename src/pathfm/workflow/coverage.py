"""Which published cells a configuration computes, and why each of the others is left out.

A *published cell* is one number a paper prints: a (row, column) value of a table's
published-values CSV (``config/paper_values/{target}.csv``; a ``mean (std)`` pair
counts once). It is *computed* when this configuration has a model standing for that
row (``published_as``, or a sweep row) and schedules the result the column is read
from for that model. Every cell that is not computed gets one reason, so a coverage
report is also the list of what is missing: the row has no model here (weights not
public, not in the registry), the column is not configured, or its benchmark is not
scheduled for the row's model.

Only tables with published numbers count (figures the papers print no values for
have no CSV). GPFM's tables are left out here: its benchmark has its own issue and
its published figure is ranks, not cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pathfm.report.tables import read_published
from pathfm.workflow import paths
from pathfm.workflow.plism import REPORT_TABLE as PLISM_TABLE
from pathfm.workflow.tables import TABLE_KINDS, paper_of

COVERED_PAPERS = ("h0mini", "kaiko")
# Columns of a published CSV that are not numbers of the paper's table.
_NOT_VALUES = {"source", "size", "training_data", "pair_class", "params", "notes"}


@dataclass
class TableCoverage:
    target: str
    computed: int = 0
    published: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)  # reason -> cells

    def leave_out(self, reason: str, cell: str) -> None:
        self.missing.setdefault(reason, []).append(cell)

    @property
    def share(self) -> float:
        return self.computed / self.published if self.published else 1.0


def value_columns(frame: pd.DataFrame, meta: Iterable[str] = ()) -> list[str]:
    """The published CSV's value columns, ``X_mean``/``X_std`` pairs folded into ``X``."""
    skip = _NOT_VALUES | set(meta) | {frame.columns[0]}
    out: list[str] = []
    for col in frame.columns:
        if col in skip or col.endswith("_std"):
            continue
        name = col.removesuffix("_mean")
        if name not in out:
            out.append(name)
    return out


def _published_cells(frame: pd.DataFrame, columns: list[str]) -> list[tuple[str, str]]:
    """(row, column) of every number the CSV prints (empty cells are not published)."""
    cells = []
    for _, r in frame.iterrows():
        for col in columns:
            value = r[col] if col in frame.columns else r.get(f"{col}_mean")
            if value is not None and not (isinstance(value, float) and pd.isna(value)) \
                    and str(value).strip() not in ("", "-", "—"):
                cells.append((str(r[frame.columns[0]]), col))
    return cells


def table_coverage(plan, target: str) -> TableCoverage | None:
    """Coverage of one paper table of ``plan`` (a :class:`pathfm.workflow.plan.Plan`)."""
    tables = plan.tables
    csv = tables.published_csv(target)
    if csv is None or TABLE_KINDS.get(target) == "distillation":
        return None
    frame = read_published(tables.basedir / csv)
    cfg = tables.config_of(target)
    cov = TableCoverage(target)
    models_of: dict[str, list[str]] = {}
    for row in tables.rows(target):
        if row["model"] and row["published"]:
            models_of.setdefault(row["published"], []).append(row["model"])
    refs = dict(cfg["cells"])
    average = cfg["average"]
    for prow, col in _published_cells(frame, value_columns(frame, cfg["meta_columns"])):
        cov.published += 1
        cell = f"{prow} / {col}"
        models = models_of.get(prow)
        if not models:
            cov.leave_out("no model here stands for this row (not in config/models.yaml or "
                          "its weights are not public)", cell)
            continue
        needed = (list(average["of"]) if average and col == average["column"] else [col])
        unset = [c for c in needed if not refs.get(c)]
        if unset:
            cov.leave_out(f"column(s) {unset} have no cell in tables.targets.{target}.cells", cell)
            continue
        if any(all(tables.scheduled(target, refs[c], m) for c in needed) for m in models):
            cov.computed += 1
        else:
            cov.leave_out(f"{', '.join(refs[c] for c in needed)} is not scheduled for "
                          f"{', '.join(models)}", cell)
    return cov


def plism_coverage(plan) -> TableCoverage | None:
    """H0-mini's PLISM table: a row is computed when its model runs the PLISM benchmark
    (each of its metric columns comes from that one result)."""
    csv = paths.published_values(PLISM_TABLE)
    if not (plan.tables.basedir / csv).exists():
        return None
    frame = read_published(plan.tables.basedir / csv)
    mapping = plan.config["plism"]["published_as"]
    ran = {mapping[m] for m in plan.plism.models() if m in mapping} if plan.plism.sets else set()
    cov = TableCoverage(PLISM_TABLE)
    for prow, col in _published_cells(frame, value_columns(frame)):
        cov.published += 1
        if prow in ran:
            cov.computed += 1
        else:
            cov.leave_out("no model here stands for this row in plism.published_as, or "
                          "plism.models does not run it", f"{prow} / {col}")
    return cov


def coverage(plan, papers: Iterable[str] = COVERED_PAPERS) -> list[TableCoverage]:
    papers = tuple(papers)
    out = [table_coverage(plan, t) for t in TABLE_KINDS if paper_of(t) in papers]
    if "h0mini" in papers:
        out.append(plism_coverage(plan))
    return [c for c in out if c is not None]


def paper_totals(rows: Iterable[TableCoverage]) -> dict[str, tuple[int, int]]:
    totals: dict[str, list[int]] = {}
    for c in rows:
        t = totals.setdefault(paper_of(c.target), [0, 0])
        t[0] += c.computed
        t[1] += c.published
    return {p: (a, b) for p, (a, b) in totals.items()}


def format_report(rows: list[TableCoverage]) -> str:
    lines = [f"{'table':34} {'computed':>8} {'published':>9} {'share':>6}"]
    for c in rows:
        lines.append(f"{c.target:34} {c.computed:8d} {c.published:9d} {c.share:6.0%}")
    for paper, (a, b) in paper_totals(rows).items():
        lines.append(f"{'TOTAL ' + paper:34} {a:8d} {b:9d} {a / b if b else 1:6.0%}")
    for c in rows:
        for reason, cells in c.missing.items():
            shown = "; ".join(cells[:6]) + (f"; … ({len(cells)} cells)" if len(cells) > 6 else "")
            lines.append(f"- {c.target}: {reason}: {shown}")
    return "\n".join(lines)


def as_records(rows: list[TableCoverage]) -> list[Mapping]:
    return [{"table": c.target, "computed": c.computed, "published": c.published,
             "missing": c.missing} for c in rows]


def plan_of_config_file(config_file: str | Path, basedir: str | Path):
    """The plan the workflow builds from ``config_file`` (schema-checked, defaults filled,
    cross-key checks run), with no file on disk counted as existing."""
    from pathfm.workflow.config_load import load_config
    from pathfm.workflow.plan import Plan

    config = load_config(config_file, basedir)
    return Plan(config, basedir, exists=lambda path: False)
