"""Checks of the workflow config: the JSON schema, then cross-key checks.

``check_schema(config)`` validates the config as written against
``workflow/schemas/config.schema.yaml`` (with jsonschema, not Snakemake's ``validate``,
whose error is the failing schema dumped in full) and reports each error on one line,
key path first: ``config train.runs.demo-vit-s8.ssl.stepz: unknown key (allowed: ...)``.

The cross-key checks (``validate_config``, on the schema-validated, default-filled
config) check that keys agree with each other (a cohort names a defined tiling, a table
cell names a benchmark that exists, a file a distillation run names exists or a rule
makes it, ...). Each error starts ``config <key>:`` and says what to change, and every
check runs before Snakemake builds the DAG, so a typo stops the run before any job starts.
"""

from __future__ import annotations

import functools
import os
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


# -- JSON schema ------------------------------------------------------------------------

MAX_SCHEMA_ERRORS = 5


@functools.lru_cache(maxsize=8)
def _validator(schema_file: Path):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    schema = yaml.safe_load(schema_file.read_text())
    schema["$id"] = schema_file.resolve().as_uri()  # relative $refs: files beside it

    @functools.cache
    def retrieve(uri: str):
        path = Path(url2pathname(urlparse(uri).path))
        return Resource.from_contents(yaml.safe_load(path.read_text()),
                                      default_specification=DRAFT202012)

    registry = Registry(retrieve=retrieve).with_resource(
        schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
    return Draft202012Validator(schema, registry=registry)


def _key(path: Iterable) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _checks_a_key_name(error) -> bool:
    """True for an error of a ``propertyNames`` schema (its instance is a key)."""
    where = list(error.absolute_schema_path)
    if "propertyNames" not in where:
        return False
    after = where[len(where) - where[::-1].index("propertyNames"):]
    return not {"properties", "additionalProperties", "items", "prefixItems"} & set(after)


def _schema_lines(error) -> list[str]:
    """One line per problem of one (leaf) validation error, key path first."""
    path, schema, kind = list(error.absolute_path), error.schema, error.validator
    here = _key(path) or "(top level)"
    if kind == "additionalProperties" and isinstance(error.instance, Mapping):
        known = schema.get("properties", {})
        allowed = ", ".join(sorted(known)) or "none"
        return [f"config {_key([*path, k])}: unknown key (allowed: {allowed})"
                for k in error.instance if k not in known]
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [f"config {_key([*path, k])}: missing (required)" for k in missing]
    if _checks_a_key_name(error):  # error.instance is a key of the object at ``path``
        allowed = schema.get("enum") if isinstance(schema, Mapping) else None
        why = (f"unknown key (allowed: {', '.join(map(str, allowed))})" if allowed
               else f"invalid key: {error.message}")
        return [f"config {_key([*path, error.instance])}: {why}"]
    if kind in ("not", "false") or schema is False:
        why = schema.get("description") if isinstance(schema, Mapping) else None
        return [f"config {here}: not allowed here" + (f" ({why})" if why else "")]
    if kind in ("anyOf", "oneOf"):
        forms = [b["required"] for b in error.validator_value
                 if isinstance(b, Mapping) and set(b) == {"required"}]
        if len(forms) == len(error.validator_value):
            needs = ", or ".join(" + ".join(f) for f in forms)
            return [f"config {here}: give {needs}"]
        return [f"config {here}: matches none of the allowed forms"]
    message, text = error.message, repr(error.instance)
    if message.startswith(text):
        message = _short(error.instance) + message[len(text):]
    return [f"config {here}: {message}"]


def schema_errors(config: Mapping, schema_file: str | Path | None = None) -> list[str]:
    """Every schema violation of ``config``, one line each, the most relevant first."""
    from jsonschema.exceptions import best_match, relevance

    def rank(error):  # jsonschema's relevance without the path itself (keys of any type)
        key = relevance(error)
        return (key[0], *key[2:])

    validator = _validator(Path(schema_file or SCHEMAS / "config.schema.yaml").resolve())
    errors = sorted(validator.iter_errors(config), key=rank, reverse=True)
    lines: list[str] = []
    for error in errors:
        for line in _schema_lines(best_match([error])):
            if line not in lines:
                lines.append(line)
    return lines


def check_schema(config: Mapping, schema_file: str | Path | None = None) -> None:
    """Raise ConfigError listing the schema violations of ``config`` (at most a few
    lines, each ``config <key path>: <what is wrong>``); the schema itself is not shown."""
    lines = schema_errors(config, schema_file)
    if lines:
        more = len(lines) - MAX_SCHEMA_ERRORS
        shown = lines[:MAX_SCHEMA_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        raise ConfigError("\n".join(shown))


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


def _made_files(config: Mapping) -> set[str]:
    """Model files some rule of this workflow writes: every trained or distilled model's
    weights (and a training run's heads), and the hub models' weights (fetch_weights)."""
    from pathfm.workflow import paths
    from pathfm.workflow.models import model_registry, training_runs

    runs = training_runs(config)
    made = {paths.model_weights(m) for m in [*runs, *config["distill"]["runs"]]}
    made |= {f"results/models/{r}/heads.safetensors" for r in runs}
    made |= {str(e.weights.path) for e in model_registry(config).values()
             if e.weights.source == "hub" and e.weights.path}
    return made


def _distill_files(cfg: Mapping) -> Iterable[tuple[str, str | None]]:
    """(key path, file) of each file a distillation run config names itself."""
    from pathfm.train.distill_config import H0MINI_DEFAULTS

    if cfg.get("method") == "h0mini":
        if cfg.get("teacher_heads", H0MINI_DEFAULTS["teacher_heads"]) == "checkpoint":
            yield "teacher_heads_path", cfg.get("teacher_heads_path")
        yield "teacher_weights", cfg.get("teacher_weights")
        yield "student_init", cfg.get("student_init")
    elif cfg.get("method") == "gpfm":
        init = (cfg.get("ssl") or {}).get("init")
        if init != "registry":
            yield "ssl.init", init
        for i, expert in enumerate(cfg.get("experts") or []):
            yield f"experts[{i}].weights", expert.get("weights")
    yield "monitor.weights", (cfg.get("monitor") or {}).get("weights")


def check_distill_files(config: Mapping, exists: Callable[[str], bool] = os.path.exists) -> None:
    """A file a distillation run config names (teacher_heads_path, teacher_weights,
    student_init, ssl.init, experts[].weights, monitor.weights) exists or is written by a
    rule of this workflow; else the job would fail only once it starts."""
    runs = config["distill"]["runs"]
    named = [(f"distill.runs.{run}.config.{key}", path)
             for run, spec in runs.items() if not spec.get("scratch_of")
             for key, path in _distill_files(spec.get("config") or {}) if path]
    if not named:
        return
    made = _made_files(config)
    for key, path in named:
        if not exists(path) and os.path.normpath(path) not in made:
            _fail(key, f"{path!r} does not exist and no rule of this workflow writes it"
                       f" (relative paths are read from the working directory)")


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
                             check_distill_files, check_plism, check_slide_bench,
                             check_ablation, check_sweeps, check_tables)


def validate_config(config: Mapping, checks: Iterable[Check] = CHECKS) -> None:
    """Run every cross-key check in order; the first contradiction raises ConfigError."""
    for check in checks:
        check(config)
