"""Cross-key checks of a schema-validated, default-filled config.

The JSON schemas check each key alone; these check that keys agree with each other
(a cohort names a defined tiling, a table cell names a benchmark that exists, ...).
Each error starts ``config <key>:`` and says what to change, and every check runs
before Snakemake builds the DAG, so a typo stops the run before any job starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import yaml

from pathfm.workflow.tables import PAPERS, TABLE_KINDS

# The repository's schemas: the workflow always runs from a checkout (editable install).
SCHEMAS = Path(__file__).resolve().parents[3] / "workflow" / "schemas"

Check = Callable[[Mapping], None]


class ConfigError(ValueError):
    """A config whose keys contradict each other; the message names the key."""


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"config {key}: {message}")


def check_tilings(config: Mapping) -> None:
    from pathfm.wsi.tiling import TilingParams

    for name, values in config["tilings"].items():
        tiling = TilingParams.from_dict(values)
        if tiling.name != name:
            _fail(f"tilings.{name}", f"the name must be {tiling.name!r} for these settings")


def check_cohorts(config: Mapping) -> None:
    tilings = config["tilings"]
    for cohort, spec in config["cohorts"].items():
        if spec["source"] == "synthetic" and not spec.get("n_slides"):
            _fail(f"cohorts.{cohort}", "a synthetic cohort needs n_slides")
        if spec["source"] == "gdc" and not (spec.get("projects") or spec.get("manifest")):
            _fail(f"cohorts.{cohort}", "a gdc cohort needs projects or a manifest")
        for tiling in spec["tilings"]:
            if tiling not in tilings:
                _fail(f"cohorts.{cohort}.tilings",
                      f"{tiling!r} is not defined under 'tilings' (defined: {sorted(tilings)})")


def check_plism(config: Mapping) -> None:
    for name, spec in config["plism"]["sets"].items():
        staining, _, scanner = spec["reference"].partition("_")
        if staining not in spec["stainings"] or scanner not in spec["scanners"]:
            _fail(f"plism.sets.{name}",
                  f"the reference {spec['reference']} must be one of its slides")
        if spec["source"] == "raw" and not spec.get("raw_dir"):
            _fail(f"plism.sets.{name}", "a raw set needs raw_dir")


def _check_task_source(config: Mapping, family: str, task: str, spec: Mapping) -> None:
    sb, cohorts = config["slide_bench"], config["cohorts"]
    key = f"slide_bench.{family}.tasks.{task}"
    cohort, gdc, dataset = (spec.get(k) for k in ("cohort", "gdc_cohort", "slide_dataset"))
    if sum(map(bool, (cohort, gdc, dataset))) != 1:
        _fail(key, "give exactly one of cohort, gdc_cohort, slide_dataset")
    if dataset and dataset not in sb["datasets"]:
        _fail(f"{key}.slide_dataset", f"{dataset!r} is not in slide_bench.datasets")
    if cohort and cohort not in sb["cohorts"]:
        _fail(f"{key}.cohort", f"{cohort!r} is not in slide_bench.cohorts")
    if gdc and (gdc not in cohorts
                or spec.get("tiling") not in cohorts[gdc]["tilings"]):
        _fail(key, f"{gdc!r} must be a cohort of 'cohorts' with the task's tiling in its"
                   " tilings")
    if dataset and family != "classification":
        _fail(key, "Camelyon16 / PANDA cohorts carry classification labels only")
    if gdc and family != "survival":
        _fail(key, f"GDC cohorts have no {family} labels; only survival tasks read them"
                   " (with labels: survival)")


def check_slide_bench(config: Mapping) -> None:
    sb = config["slide_bench"]
    for family in ("classification", "survival", "retrieval"):
        for task, spec in sb[family]["tasks"].items():
            _check_task_source(config, family, task, spec)
    for task, spec in sb["segmentation"]["tasks"].items():
        key = f"slide_bench.segmentation.tasks.{task}"
        if bool(spec.get("cohort")) == bool(spec.get("dataset")):
            _fail(key, "give exactly one of cohort, dataset")
        cohort = spec.get("cohort")
        if cohort and cohort not in sb["cohorts"]:
            _fail(f"{key}.cohort", f"{cohort!r} is not in slide_bench.cohorts")
        if cohort and spec["train"] + spec["val"] + spec["test"] > sb["cohorts"][cohort]["n_slides"]:
            _fail(key, f"train + val + test sections exceed the {cohort!r} cohort's"
                       f" {sb['cohorts'][cohort]['n_slides']} slides")
    for i, entry in enumerate(sb["rank"]["entries"]):
        if entry["benchmark"] not in known_benchmarks():
            _fail(f"slide_bench.rank.entries[{i}].benchmark",
                  f"{entry['benchmark']!r} is no benchmark of pathfm"
                  f" (known: {sorted(known_benchmarks())})")


def check_ablation(config: Mapping) -> None:
    lp, tp53, ablation = (config["patch_bench"]["linear_probe"], config["patch_bench"]["tp53"],
                          config["ablation"])
    for task in ablation["tasks"]:
        if task not in lp["tasks"] and task not in tp53["tasks"]:
            _fail("ablation.tasks", f"{task!r} is neither in patch_bench.linear_probe.tasks"
                                    f" {lp['tasks']} nor in patch_bench.tp53.tasks {tp53['tasks']}")
    for protocol in ablation["protocols"]:
        if protocol not in lp["protocols"]:
            _fail("ablation.protocols", f"{protocol!r} is not in"
                                        f" patch_bench.linear_probe.protocols {lp['protocols']}")


def check_sweeps(config: Mapping) -> None:
    # The sweeps a table can show are the tables schema's `sweep` choices.
    names = _sweep_names()
    for axis in config["sweeps"]["axes"]:
        if axis not in names:
            _fail(f"sweeps.axes.{axis}", f"no table shows a sweep of this name; the tables"
                                         f" read {names}")


def _sweep_names() -> list[str]:
    schema = yaml.safe_load((SCHEMAS / "tables.schema.yaml").read_text())
    target = schema["properties"]["targets"]["additionalProperties"]
    return [v for v in target["properties"]["sweep"]["enum"] if v is not None]


def _schema_enum(schema: str, *path: str) -> list[str]:
    """The choices the schema gives at ``path`` (items of arrays followed)."""
    node = yaml.safe_load((SCHEMAS / schema).read_text())
    for key in path:
        node = node["properties"][key]
    node = node.get("items", node)
    return [v for v in node["enum"] if v is not None]


def known_benchmarks() -> set[str]:
    """Benchmark names a result path may carry ({benchmark}/{task}/{model}.json).

    From the schemas' choices, not from what this config runs: a cell may name a
    benchmark the demo leaves out (it is then marked "not run"), but never a typo.
    """
    probe = _schema_enum("patch_bench.schema.yaml", "linear_probe", "protocols")
    poolings = _schema_enum("patch_bench.schema.yaml", "hest", "poolings")
    names = {f"linear_probe-{p}" for p in probe}
    names |= {f"hest-{p.replace('+', '_')}" for p in poolings}
    names |= {"tp53", "unsupervised", "segmentation"}
    names |= {f"slide_classification-{p}"
              for p in _schema_enum("slide_bench.schema.yaml", "classification", "protocols")}
    names |= {f"survival-{h}"
              for h in _schema_enum("slide_bench.schema.yaml", "survival", "heads")}
    names |= {f"retrieval-{p}"
              for p in _schema_enum("slide_bench.schema.yaml", "retrieval", "protocols")}
    return names


def check_tables(config: Mapping) -> None:
    tables = config["tables"]
    benchmarks = known_benchmarks()
    for target, entry in tables["targets"].items():
        if target not in TABLE_KINDS:
            _fail(f"tables.targets.{target}", f"no such table; the tables are"
                                              f" {sorted(TABLE_KINDS)}")
        for column, ref in entry["cells"].items():
            if not ref:
                continue
            benchmark = ref.split("/", 1)[0]
            if benchmark not in benchmarks:
                _fail(f"tables.targets.{target}.cells.{column}",
                      f"{ref!r} names benchmark {benchmark!r}, which no rule makes"
                      f" (known: {sorted(benchmarks)})")
        for task, ref in entry["tasks"].items():
            benchmark = ref.split("/", 1)[0]
            if benchmark not in benchmarks:
                _fail(f"tables.targets.{target}.tasks.{task}",
                      f"{ref!r} names benchmark {benchmark!r}, which no rule makes"
                      f" (known: {sorted(benchmarks)})")
    for paper in tables["published_as"]:
        if paper not in PAPERS:
            _fail(f"tables.published_as.{paper}", f"the papers are {list(PAPERS)}")


def check_train_runs(config: Mapping) -> None:
    from pathfm.data.train_runs import check_runs
    from pathfm.models.registry import load_registry
    from pathfm.workflow.models import training_runs

    check_runs(training_runs(config), config["cohorts"],
               load_registry(config["train"]["registry"]))


def check_models(config: Mapping) -> None:
    """Model lists name registry entries or training runs."""
    from pathfm.workflow.models import model_registry

    registry = model_registry(config)
    for key, models in (("embed.models", config["embed"]["models"]),
                        ("plism.models", config["plism"]["models"]),
                        ("slide_bench.models", config["slide_bench"]["models"] or [])):
        unknown = [m for m in models if m not in registry]
        if unknown:
            _fail(key, f"{unknown} are neither in config/models.yaml nor training runs")


CHECKS: tuple[Check, ...] = (check_tilings, check_cohorts, check_train_runs, check_models,
                             check_plism, check_slide_bench, check_ablation, check_sweeps,
                             check_tables)


def validate_config(config: Mapping, checks: Iterable[Check] = CHECKS) -> None:
    """Run every cross-key check in order; the first contradiction raises ConfigError."""
    for check in checks:
        check(config)
