# Input functions of the paper tables (no rules here): which rows, which cells, which results.
from pathfm.report.paper_compare import contract_text, parse_cell
from pathfm.report.tables import read_published
from pathfm.workflow.tables import PAPERS, TABLE_KINDS, figure_targets, paper_of

TABLES = config["tables"]

# Target -> kind (pathfm.workflow.tables, which the config checks also read).
PAPER_TABLE_KINDS = TABLE_KINDS
PAPER_FIGURES = figure_targets()


def table_config(target):
    """The target's config entry with every schema default (a target left out: all defaults)."""
    entry = {
        "cells": {},
        "meta_columns": [],
        "average": None,
        "std": False,
        "sweep": None,
        "rows": {},
        "fixed_rows": {},
        "metrics": {},
        "tasks": {},
        "published_as": {},
        "caption": "",
    }
    entry.update(TABLES["targets"].get(target, {}))
    return entry


def published_csv(target):
    """config/paper_values/{target}.csv, or None for figures the paper gives no numbers for."""
    path = Path(workflow.basedir) / "config" / "paper_values" / f"{target}.csv"
    return f"config/paper_values/{target}.csv" if path.exists() else None


@functools.lru_cache(maxsize=None)
def published_rows(target):
    path = published_csv(target)
    if path is None:
        return ()
    frame = read_published(Path(workflow.basedir) / path)
    return tuple(str(v) for v in frame[frame.columns[0]])


def bench_path(ref, model):
    benchmark, task, _ = parse_cell(ref)
    return f"results/bench/{benchmark}/{task}/{model}.json"


def produced(path):
    """True when some rule of this configuration makes the file (wildcard constraints
    carry the configured tasks and protocols), so cells it did not run are marked."""
    return Path(path).exists() or any(r.is_producer(path) for r in workflow.rules)


def sweep_rows(cfg):
    make = globals().get("sweep_models")
    models = make(cfg["sweep"]) if make and cfg["sweep"] else {}
    return [
        {
            "label": str(label),
            "model": model,
            "published": cfg["rows"].get(str(label), str(label)),
        }
        for label, model in models.items()
    ]


def table_rows(target):
    """Rows: our models (mapped to published rows) then the published rows nobody ran."""
    cfg = table_config(target)
    if cfg["sweep"]:
        rows = [
            {"label": prow, "model": model, "published": prow}
            for prow, model in cfg["fixed_rows"].items()
        ] + sweep_rows(cfg)
    else:
        mapping = TABLES["published_as"].get(paper_of(target), {}) | cfg["published_as"]
        models = TABLES["models"] if TABLES["models"] is not None else embed_models()
        rows = [{"label": m, "model": m, "published": mapping.get(m)} for m in models]
    if PAPER_TABLE_KINDS[target] == "distillation":
        return rows  # its published CSV holds per-metric gains, not rows
    known = set(published_rows(target))
    named = list(cfg["rows"].values()) + list(cfg["fixed_rows"])
    if not cfg["sweep"]:
        named = [r["published"] for r in rows if r["published"] is not None]
    unknown = sorted(set(named) - known)
    if unknown and published_csv(target) is not None:
        raise ValueError(
            f"config tables ({target}): published rows {unknown} are not in "
            f"{published_csv(target)} (its rows: {sorted(known)})"
        )
    rows = [
        dict(r, published=r["published"] if r["published"] in known else None)
        for r in rows
    ]
    taken = {r["published"] for r in rows}
    rows += [
        {"label": p, "model": None, "published": p}
        for p in published_rows(target)
        if p not in taken
    ]
    return rows


def run_models(target):
    return [r["model"] for r in table_rows(target) if r["model"]]


def table_cells(target):
    """Configured cells whose result this configuration produces; the others -> None.
    Distillation cells are "benchmark/task" prefixes (the metrics come from 'metrics').
    """
    cfg = table_config(target)
    models = run_models(target)
    prefix_only = PAPER_TABLE_KINDS[target] == "distillation"
    out = {}
    for col, ref in cfg["cells"].items():
        full = f"{ref}/metric" if ref and prefix_only else ref
        ok = bool(full) and all(produced(bench_path(full, m)) for m in models)
        if ok and cfg["sweep"]:
            ok = ablation_probe(full)
        out[col] = ref if ok else None
    return out


def ablation_probe(ref):
    """Sweep models are probed only on config ablation.tasks with ablation.protocols."""
    tasks, protocols = globals().get("ablation_tasks"), globals().get(
        "ablation_protocols"
    )
    if tasks is None or protocols is None:
        return False
    benchmark, task, _ = parse_cell(ref)
    return task in tasks() and benchmark in [f"linear_probe-{p}" for p in protocols()]


def unsupervised_tasks(target):
    cfg = table_config(target)
    models = run_models(target)
    return {
        task: probe
        for task, probe in cfg["tasks"].items()
        if all(
            produced(bench_path(f"unsupervised/{task}/odcorr", m))
            and produced(bench_path(probe, m))
            for m in models
        )
    }


@functools.lru_cache(maxsize=None)
def table_spec(target):
    cfg = table_config(target)
    rows = table_rows(target)
    kind = PAPER_TABLE_KINDS[target]
    cells = table_cells(target)
    spec = {
        "rows": rows,
        "cells": cells,
        "meta_columns": cfg["meta_columns"],
        "average": cfg["average"],
        "std": cfg["std"],
        "metrics": cfg["metrics"],
        "contracts": {
            m: contract_text(REGISTRY[m].contract)
            for m in run_models(target)
            if m in REGISTRY
        },
    }
    if kind == "unsupervised":
        spec["models"] = run_models(target)
        spec["tasks"] = unsupervised_tasks(target)
    return spec


def table_results(target):
    spec = table_spec(target)
    kind = PAPER_TABLE_KINDS[target]
    models = [r["model"] for r in spec["rows"] if r["model"]]
    if kind == "unsupervised":
        refs = [f"unsupervised/{t}/odcorr" for t in spec["tasks"]] + list(
            spec["tasks"].values()
        )
    elif kind == "distillation":
        refs = [f"{p}/x" for p in spec["cells"].values() if p]
    else:
        refs = [r for r in spec["cells"].values() if r]
    return sorted({bench_path(ref, m) for ref in refs for m in models})


def table_caption(target):
    """The configured caption plus the protocols actually used (from the cells)."""
    spec = table_spec(target)
    refs = [r for r in spec["cells"].values() if r] + list(
        spec.get("tasks", {}).values()
    )
    benchmarks = sorted({r.split("/")[0] for r in refs})
    protocol = ", ".join(benchmarks) if benchmarks else "none run"
    return f"{table_config(target)['caption']} Protocol: {protocol}.".strip()


# Tables made by other stages' rules, shown in the report beside ours.
OTHER_REPORT_TABLES = {
    "h0mini_table3_plism": "H0-mini supplement 7.2: PLISM robustness, mean (std) over slide pairs.",
    SB_RANK[
        "target"
    ]: "GPFM: average rank per model over the configured benchmark scores.",
}


def report_tables():
    return list(PAPER_TABLE_KINDS) + [
        t for t in OTHER_REPORT_TABLES if paper_of(t) in PAPERS
    ]


def report_table_caption(target):
    if target in PAPER_TABLE_KINDS:
        return table_caption(target)
    return OTHER_REPORT_TABLES[target]


def paper_table_targets():
    return (
        [f"results/tables/{t}.csv" for t in PAPER_TABLE_KINDS]
        + [f"results/figures/{t}.png" for t in PAPER_FIGURES]
        + [f"results/report/tables/{t}.html" for t in report_tables()]
    )


ALL_TARGETS["tables"] = paper_table_targets


def runtime_summary_inputs():
    """Every other target's files, so the run-time summary is built after them."""
    return [
        path
        for name, files in sorted(ALL_TARGETS.items())
        if name not in ("runtime", "provenance")
        for path in files()
    ]


ALL_TARGETS["provenance"] = lambda: [
    "results/provenance/config.yaml",
    "results/provenance/versions.txt",
    "results/provenance/provenance.html",
]
ALL_TARGETS["runtime"] = lambda: ["results/runtime.json"]
