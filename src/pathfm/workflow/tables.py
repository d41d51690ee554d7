"""The paper tables and figures: the registry of targets, and which rows, cells and
result files each one is built from.

The registry (``TABLE_KINDS``) is the one declaration of a target: its rule in
``paper_tables.smk`` (a target rule per entry), the config check of
``tables.targets`` and the tests' list of targets all read it. Adding a table is an
entry here, a published-values CSV under ``config/paper_values/`` and its config
entry (cells, caption) in the configs.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from pathfm.config_defaults import fill_defaults
from pathfm.report.paper_compare import contract_text, parse_cell
from pathfm.report.tables import read_published
from pathfm.workflow import paths

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
# Tables other stages' rules make, shown in the report beside ours: target -> caption
# (the rank table's target name is configurable, so its caption is keyed by None).
PLISM_TABLE = "h0mini_table3_plism"
PLISM_CAPTION = "H0-mini supplement 7.2: PLISM robustness, mean (std) over slide pairs."
RANK_CAPTION = "GPFM: average rank per model over the configured benchmark scores."
SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "tables.schema.yaml"


def figure_targets() -> list[str]:
    return [t for t, kind in TABLE_KINDS.items() if kind != "table"]


def paper_of(target: str) -> str:
    return target.split("_", 1)[0]


def target_files(target: str) -> list[str]:
    """What a table's target rule builds: its table files, and its figure if it has one."""
    figure = paths.figure_files(target) if TABLE_KINDS[target] != "table" else []
    return figure + paths.table_files(target)


def script_kind(target: str) -> str:
    """paper_table.py's --kind: sweep figures are drawn as sweeps."""
    return {"figure": "sweep"}.get(TABLE_KINDS[target], TABLE_KINDS[target])


@functools.lru_cache(maxsize=1)
def _target_defaults() -> dict:
    schema = yaml.safe_load(SCHEMA.read_text())
    entry: dict = {}
    fill_defaults(entry, schema["properties"]["targets"]["additionalProperties"], SCHEMA.parent)
    return entry


class TablePlan:
    """Rows, cells and inputs of every table.

    ``produced(path)`` says whether a result file exists or this configuration makes
    it; ``embed_models()`` the models of the embed stage; ``sweep_models(axis)`` and
    ``probes(benchmark, task)`` the ablation sweeps' models and where they are scored.
    """

    def __init__(self, config: Mapping, basedir: str | Path, registry: Mapping,
                 embed_models: Callable[[], list[str]], produced: Callable[[str], bool],
                 sweep_models: Callable[[str | None], dict[str, str]],
                 probes: Callable[[str, str], bool], rank_target: str):
        self.tables = config["tables"]
        self.basedir = Path(basedir)
        self._registry = registry
        self._embed_models = embed_models
        self._produced = produced
        self._sweep_models = sweep_models
        self._probes = probes
        self.rank_target = rank_target
        self._specs: dict[str, dict] = {}
        self._published: dict[str, tuple[str, ...]] = {}

    def config_of(self, target: str) -> dict:
        """The target's config entry; a target left out gets the schema's defaults."""
        entry = self.tables["targets"].get(target)
        return entry if entry is not None else copy.deepcopy(_target_defaults())

    def published_csv(self, target: str) -> str | None:
        """config/paper_values/{target}.csv, or None for figures the paper gives no numbers for."""
        path = paths.published_values(target)
        return path if (self.basedir / path).exists() else None

    def published_rows(self, target: str) -> tuple[str, ...]:
        if target not in self._published:
            path = self.published_csv(target)
            rows: tuple[str, ...] = ()
            if path is not None:
                frame = read_published(self.basedir / path)
                rows = tuple(str(v) for v in frame[frame.columns[0]])
            self._published[target] = rows
        return self._published[target]

    def _bench_path(self, ref: str, model: str) -> str:
        benchmark, task, _ = parse_cell(ref)
        return paths.bench_result(benchmark, task, model)

    def rows(self, target: str) -> list[dict]:
        """Rows: our models (mapped to published rows) then the published rows nobody ran."""
        cfg = self.config_of(target)
        if cfg["sweep"]:
            rows = [{"label": prow, "model": model, "published": prow}
                    for prow, model in cfg["fixed_rows"].items()]
            rows += [{"label": str(label), "model": model,
                      "published": cfg["rows"].get(str(label), str(label))}
                     for label, model in self._sweep_models(cfg["sweep"]).items()]
        else:
            mapping = self.tables["published_as"].get(paper_of(target), {}) | cfg["published_as"]
            models = (self.tables["models"] if self.tables["models"] is not None
                      else self._embed_models())
            rows = [{"label": m, "model": m, "published": mapping.get(m)} for m in models]
        if TABLE_KINDS[target] == "distillation":
            return rows  # its published CSV holds per-metric gains, not rows
        known = set(self.published_rows(target))
        named = list(cfg["rows"].values()) + list(cfg["fixed_rows"])
        if not cfg["sweep"]:
            named = [r["published"] for r in rows if r["published"] is not None]
        unknown = sorted(set(named) - known)
        if unknown and self.published_csv(target) is not None:
            raise ValueError(f"config tables ({target}): published rows {unknown} are not in "
                             f"{self.published_csv(target)} (its rows: {sorted(known)})")
        rows = [dict(r, published=r["published"] if r["published"] in known else None)
                for r in rows]
        taken = {r["published"] for r in rows}
        rows += [{"label": p, "model": None, "published": p}
                 for p in self.published_rows(target) if p not in taken]
        return rows

    def scheduled(self, target: str, ref: str, model: str) -> bool:
        """True when this configuration computes cell ``ref`` for ``model`` in ``target``:
        its result is produced, and a sweep table's task is one the sweeps are probed on."""
        if not self._produced(self._bench_path(ref, model)):
            return False
        return not self.config_of(target)["sweep"] or self._probes(*parse_cell(ref)[:2])

    def run_models(self, target: str) -> list[str]:
        return [r["model"] for r in self.rows(target) if r["model"]]

    def cells(self, target: str) -> dict[str, str | None]:
        """Configured cells whose result this configuration produces; the others -> None.
        Distillation cells are "benchmark/task" prefixes (the metrics come from 'metrics')."""
        cfg = self.config_of(target)
        models = self.run_models(target)
        prefix_only = TABLE_KINDS[target] == "distillation"
        out = {}
        for col, ref in cfg["cells"].items():
            full = f"{ref}/metric" if ref and prefix_only else ref
            ok = bool(full) and all(self._produced(self._bench_path(full, m)) for m in models)
            if ok and cfg["sweep"]:
                ok = self._probes(*parse_cell(full)[:2])
            out[col] = ref if ok else None
        return out

    def unsupervised_tasks(self, target: str) -> dict[str, str]:
        cfg = self.config_of(target)
        models = self.run_models(target)
        return {task: probe for task, probe in cfg["tasks"].items()
                if all(self._produced(paths.bench_result("unsupervised", task, m))
                       and self._produced(self._bench_path(probe, m)) for m in models)}

    def spec(self, target: str) -> dict:
        """What paper_table.py builds the target from (passed as JSON)."""
        if target not in self._specs:
            cfg = self.config_of(target)
            spec = {
                "rows": self.rows(target),
                "cells": self.cells(target),
                "meta_columns": cfg["meta_columns"],
                "average": cfg["average"],
                "std": cfg["std"],
                "metrics": cfg["metrics"],
                "contracts": {m: contract_text(self._registry[m].contract)
                              for m in self.run_models(target) if m in self._registry},
            }
            if TABLE_KINDS[target] == "unsupervised":
                spec["models"] = self.run_models(target)
                spec["tasks"] = self.unsupervised_tasks(target)
            self._specs[target] = spec
        return self._specs[target]

    def results(self, target: str) -> list[str]:
        spec = self.spec(target)
        kind = TABLE_KINDS[target]
        models = [r["model"] for r in spec["rows"] if r["model"]]
        if kind == "unsupervised":
            refs = [f"unsupervised/{t}/odcorr" for t in spec["tasks"]]
            refs += list(spec["tasks"].values())
        elif kind == "distillation":
            refs = [f"{p}/x" for p in spec["cells"].values() if p]
        else:
            refs = [r for r in spec["cells"].values() if r]
        return sorted({self._bench_path(ref, m) for ref in refs for m in models})

    def caption(self, target: str) -> str:
        """The configured caption plus the protocols actually used (from the cells)."""
        spec = self.spec(target)
        refs = [r for r in spec["cells"].values() if r] + list(spec.get("tasks", {}).values())
        benchmarks = sorted({r.split("/")[0] for r in refs})
        protocol = ", ".join(benchmarks) if benchmarks else "none run"
        return f"{self.config_of(target)['caption']} Protocol: {protocol}.".strip()

    def other_report_tables(self) -> dict[str, str]:
        return {PLISM_TABLE: PLISM_CAPTION, self.rank_target: RANK_CAPTION}

    def report_tables(self) -> list[str]:
        return list(TABLE_KINDS) + [t for t in self.other_report_tables()
                                    if paper_of(t) in PAPERS]

    def report_caption(self, target: str) -> str:
        if target in TABLE_KINDS:
            return self.caption(target)
        return self.other_report_tables()[target]

    def targets(self) -> list[str]:
        return ([paths.table(t) for t in TABLE_KINDS]
                + [paths.figure(t) for t in figure_targets()]
                + [paths.table_html(t) for t in self.report_tables()])
