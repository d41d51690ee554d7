"""The config blocks handed to jobs (train.runs.*.ssl / multicrop, cohorts.*.synth,
distill.runs.*.config, sweep overrides, probe overrides, ...) are described key by key in
the schema: a typo, a wrong type or an out-of-range value stops the workflow before the
DAG is built, with a short message that starts with the key path."""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from pathfm.config_defaults import fill_defaults
from pathfm.config_merge import deep_merge
from pathfm.workflow.validate import ConfigError, check_schema, validate_config

from .conftest import ROOT, SCHEMAS, resolved

RUN = "demo-vit-s8"
TRAIN = f"train.runs.{RUN}"
H0 = "distill.runs.demo-h0-mini.config"
GPFM = "distill.runs.demo-gpfm.config"


def _demo() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _set(config: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[last] = value
    return config


def _schema_error(config: dict) -> str:
    with pytest.raises(ConfigError) as err:
        check_schema(config)
    return str(err.value)


def _schema(name: str) -> dict:
    return yaml.safe_load((SCHEMAS / name).read_text())


# -- configs that must pass ------------------------------------------------------------

OVERLAYS = sorted((ROOT / "tests" / "configs").glob("*.yaml")) + [
    ROOT / "tests" / "cluster" / "demo_slice.yaml", ROOT / "tests" / "cluster" / "sbatch_rules.yaml"]


@pytest.mark.parametrize("config_file", ["config/config.yaml", "config/paper.yaml"])
def test_shipped_configs_pass_the_schema_and_the_checks(config_file):
    validate_config(resolved(config_file))


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_test_overlays_pass_the_schema(overlay):
    check_schema(deep_merge(_demo(), yaml.safe_load(overlay.read_text())))


def test_configs_built_by_other_tests_pass_the_schema():
    cfg = _demo()
    cfg["cohorts"] = {"tiny": {"source": "synthetic", "n_slides": 2, "seed": 7,
                               "synth": {"width_um": 800, "height_um": 600, "n_pieces": 1,
                                         "artefacts": []}}}
    cfg["train"] = {"runs": {"tiny-vit": {
        "model": "demo-vit-s8", "objective": "dino", "cohorts": ["tiny"], "init": "random",
        "patching": {"patch_px": 48, "mpps": [1.0, 0.5], "num_workers": 0, "reader": "zarr"},
        "multicrop": {"global_size": 32, "local_size": 16, "n_local": 2},
        "ssl": {"steps": 3, "batch_size": 4, "log_every": 1, "progress": False,
                "heads": {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16}}}}}
    cfg["sweeps"] = {"axes": {}}
    check_schema(cfg)


# -- the bad settings of issue #21 -----------------------------------------------------

BAD = [
    # (setting, value, key path named first)
    (f"{TRAIN}.ssl.optim.lrr", 1e-3, f"{TRAIN}.ssl.optim.lrr"),
    (f"{TRAIN}.ssl.stepz", 70, f"{TRAIN}.ssl.stepz"),
    (f"{TRAIN}.multicrop.n_locals", 4, f"{TRAIN}.multicrop.n_locals"),
    ("cohorts.demo.synth.widht_um", 2000, "cohorts.demo.synth.widht_um"),
    (f"{TRAIN}.ssl.steps", "seventy", f"{TRAIN}.ssl.steps"),
    (f"{TRAIN}.ssl.batch_size", 0, f"{TRAIN}.ssl.batch_size"),
    (f"{TRAIN}.ssl.steps", -5, f"{TRAIN}.ssl.steps"),
    (f"{TRAIN}.ssl.steps", 0, f"{TRAIN}.ssl.steps"),
    (f"{TRAIN}.multicrop.global_size", 0, f"{TRAIN}.multicrop.global_size"),
    (f"{TRAIN}.epochs.total", 0, f"{TRAIN}.epochs.total"),
    # keys a run sets itself may not be given in its ssl block
    (f"{TRAIN}.ssl.objective", "dinov2", f"{TRAIN}.ssl.objective"),
    (f"{TRAIN}.ssl.seed", 3, f"{TRAIN}.ssl.seed"),
    ("cohorts.demo.synth.stain.h_scal", 1.0, "cohorts.demo.synth.stain.h_scal"),
    ("cohorts.demo.synth.artefacts", ["smudge"], "cohorts.demo.synth.artefacts[0]"),
    # distillation run configs
    (f"{H0}.teacher_heads_pth", "x.safetensors", f"{H0}.teacher_heads_pth"),
    (f"{H0}.steps", -5, f"{H0}.steps"),
    (f"{H0}.global_batch_size", 0, f"{H0}.global_batch_size"),
    (f"{H0}.crops.global_size", 0, f"{H0}.crops.global_size"),
    (f"{H0}.optim.lrr", 1.0, f"{H0}.optim.lrr"),
    (f"{H0}.teacher_heads", "pretrained", f"{H0}.teacher_heads"),
    (f"{GPFM}.ssl.stepz", 3, f"{GPFM}.ssl.stepz"),
    (f"{GPFM}.ssl.batch_size", 0, f"{GPFM}.ssl.batch_size"),
    (f"{GPFM}.ssl.objective", "dino", f"{GPFM}.ssl.objective"),
    (f"{GPFM}.experts.0.patch_wieght", 0.1, f"{GPFM}.experts[0].patch_wieght"),
    (f"{GPFM}.method", "gpfm2", f"{GPFM}.method"),
    # sweep overrides are merged over a base run: they take the run's keys only
    ("sweeps.common.ssl.stepz", 25, "sweeps.common.ssl.stepz"),
    ("sweeps.common.ssl.steps", 0, "sweeps.common.ssl.steps"),
    ("sweeps.axes.magnification.values.5x.patching.mppz", [2.0],
     "sweeps.axes.magnification.values.5x.patching.mppz"),
    ("sweeps.axes.objective.common.ssl.optim.lrr", 1.0,
     "sweeps.axes.objective.common.ssl.optim.lrr"),
    # probe overrides, registration parameters, warps, demo dataset builders
    ("patch_bench.linear_probe.overrides.eva.max_stepz", 10,
     "patch_bench.linear_probe.overrides.eva.max_stepz"),
    ("patch_bench.linear_probe.overrides.eva.max_steps", 0,
     "patch_bench.linear_probe.overrides.eva.max_steps"),
    ("patch_bench.tp53.overrides.default_patiense", 10, "patch_bench.tp53.overrides.default_patiense"),
    ("plism.registration.params.bspline_iteration", 10,
     "plism.registration.params.bspline_iteration"),
    ("plism.sets.demo_plism.synth.warp_kwargs.max_rotation", 3.0,
     "plism.sets.demo_plism.synth.warp_kwargs.max_rotation"),
    ("patch_bench.datasets.crc.params.per_clas", [4, 2], "patch_bench.datasets.crc.params.per_clas"),
    ("patch_bench.datasets.hest.params.n_genes", 0, "patch_bench.datasets.hest.params.n_genes"),
]


@pytest.mark.parametrize("setting, value, key", BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD])
def test_bad_setting_is_rejected_naming_the_key(setting, value, key):
    message = _schema_error(_set(_demo(), setting, value))
    assert message.startswith(f"config {key}: "), message


def test_unknown_key_lists_the_allowed_ones():
    message = _schema_error(_set(_demo(), f"{TRAIN}.ssl.stepz", 70))
    assert "unknown key" in message and "steps" in message and "batch_size" in message


def test_distill_run_needs_a_method():
    cfg = _demo()
    del cfg["distill"]["runs"]["demo-gpfm"]["config"]["method"]
    assert _schema_error(cfg).startswith(f"config {GPFM}.method: missing")


def test_top_level_typo_is_short_and_names_the_key():
    cfg = _demo()
    cfg["trian"] = cfg.pop("train")
    message = _schema_error(cfg)
    assert message.startswith("config trian: unknown key (allowed: "), message
    assert len(message.splitlines()) < 20
    # No schema dump: neither the failing schema nor the instance is printed.
    assert "description" not in message and "additionalProperties" not in message
    assert len(message) < 1000


def test_several_errors_are_listed_one_line_each():
    cfg = _set(_set(_demo(), "mask.mpq", 2.0), f"{TRAIN}.ssl.batch_size", 0)
    lines = _schema_error(cfg).splitlines()
    assert lines[0].startswith("config mask.mpq: unknown key")
    assert any(line.startswith(f"config {TRAIN}.ssl.batch_size: ") for line in lines)


# -- files a distillation config names --------------------------------------------------


def test_missing_teacher_heads_path_is_named_before_any_job(demo_config):
    demo_config["distill"]["runs"]["demo-h0-mini"]["config"]["teacher_heads_path"] = (
        "nowhere/heads.safetensors")
    with pytest.raises(ConfigError, match=rf"^config {H0}\.teacher_heads_path: 'nowhere/"):
        validate_config(demo_config)


def test_teacher_heads_path_written_by_a_rule_or_existing_passes(demo_config, tmp_path):
    # The demo's path is train_ssl's heads.safetensors of the teacher run: made by a rule.
    validate_config(copy.deepcopy(demo_config))
    heads = tmp_path / "heads.safetensors"
    heads.write_bytes(b"")
    demo_config["distill"]["runs"]["demo-h0-mini"]["config"]["teacher_heads_path"] = str(heads)
    validate_config(demo_config)


def test_learned_heads_ignore_the_heads_path(demo_config):
    cfg = demo_config["distill"]["runs"]["demo-h0-mini"]["config"]
    cfg.update(teacher_heads="learned", teacher_heads_path="nowhere/heads.safetensors")
    validate_config(demo_config)


@pytest.mark.parametrize("key, value, named", [
    ("student_init", "nowhere/student.safetensors", f"{H0}.student_init"),
    ("teacher_weights", "nowhere/teacher.safetensors", f"{H0}.teacher_weights"),
    ("monitor", {"weights": "nowhere/ref.safetensors"}, f"{H0}.monitor.weights"),
])
def test_other_missing_distill_files_are_named(demo_config, key, value, named):
    demo_config["distill"]["runs"]["demo-h0-mini"]["config"][key] = value
    with pytest.raises(ConfigError, match=rf"^config {named}: "):
        validate_config(demo_config)


def test_missing_expert_weights_are_named(demo_config):
    demo_config["distill"]["runs"]["demo-gpfm"]["config"]["experts"][1]["weights"] = "no.pt"
    with pytest.raises(ConfigError, match=rf"^config {GPFM}\.experts\[1\]\.weights: "):
        validate_config(demo_config)


# -- defaults: the code's, documented, never filled into these blocks -------------------


def _defaults(node: dict) -> dict:
    """{key: default} of a schema object, nested objects as dicts of their defaults."""
    out = {}
    for key, sub in node.get("properties", {}).items():
        if "properties" in sub and sub.get("type") == "object":
            out[key] = _defaults(sub)
        elif "default" in sub:
            out[key] = sub["default"]
    return out


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def test_ssl_schema_is_the_code_config():
    from pathfm.train.ssl import DEFAULT_CONFIG

    ssl = _schema("ssl.schema.yaml")
    assert set(ssl["properties"]) == set(DEFAULT_CONFIG)
    # Keys the caller sets (run keys, the job) have no default here.
    identity = {"objective", "model", "registry", "init", "seed", "data_manifest"}
    assert {k for k, v in ssl["properties"].items() if "default" not in v} == identity
    assert _defaults(ssl) == {k: v for k, v in DEFAULT_CONFIG.items() if k not in identity}
    run_ssl = _schema("train.schema.yaml")["$defs"]["run"]["properties"]["ssl"]
    assert set(run_ssl["properties"]) == identity


def test_multicrop_and_synth_schemas_are_the_code_defaults():
    from pathfm.data.multicrop import MultiCropConfig
    from pathfm.wsi.synth import SynthParams

    multicrop = _schema("train.schema.yaml")["$defs"]["run"]["properties"]["multicrop"]
    code = {k: v for k, v in _plain(MultiCropConfig()).items() if k not in ("mean", "std")}
    assert _defaults(multicrop) == code
    synth = _schema("config.schema.yaml")["$defs"]["synth"]
    assert _defaults(synth) == _plain(SynthParams())


def test_distill_schemas_are_the_code_defaults():
    from pathfm.train import distill_config as dc

    defs = _schema("distill.schema.yaml")["$defs"]
    block = {"crops": dc.CROPS_DEFAULTS, "data": dc.DATA_DEFAULTS, "monitor": dc.MONITOR_DEFAULTS}
    for name, code in block.items():
        assert _defaults(defs[name]) == code, name
    h0 = dict(_defaults(defs["h0mini"]))
    h0.update(block)
    expected = {k: v for k, v in dc.H0MINI_DEFAULTS.items() if k not in ("method", "student")}
    assert set(defs["h0mini"]["properties"]) == set(dc.H0MINI_DEFAULTS)
    assert h0 == expected
    gpfm = defs["gpfm"]
    assert set(gpfm["properties"]) == set(dc.GPFM_DEFAULTS)
    got = {k: v for k, v in _defaults(gpfm).items() if k != "ssl"} | block
    assert got == {k: v for k, v in dc.GPFM_DEFAULTS.items() if k not in ("method", "ssl")}
    expert = gpfm["properties"]["experts"]["items"]
    assert set(expert["properties"]) == set(dc.EXPERT_DEFAULTS)
    assert _defaults(expert) == {k: v for k, v in dc.EXPERT_DEFAULTS.items() if k != "model"}


def test_probe_override_keys_are_the_protocol_settings():
    from pathfm.bench.linear_probe import ProbeProtocol

    probe = _schema("patch_bench.schema.yaml")["$defs"]["probe_overrides"]
    assert set(probe["properties"]) == {f.name for f in dataclasses.fields(ProbeProtocol)} - {"name"}


def test_registration_and_warp_keys_are_the_code_parameters():
    import inspect

    from pathfm.wsi.registration import RegistrationParams
    from pathfm.wsi.synth_plism import KnownWarp

    plism = _schema("plism.schema.yaml")["properties"]
    params = plism["registration"]["properties"]["params"]
    assert set(params["properties"]) == {f.name for f in dataclasses.fields(RegistrationParams)}
    code = {k: v for k, v in _plain(RegistrationParams()).items() if k != "threads"}
    assert _defaults(params) == code  # threads: the machine's, no default written
    warp = plism["sets"]["additionalProperties"]["properties"]["synth"]["properties"]["warp_kwargs"]
    kwargs = inspect.signature(KnownWarp.random).parameters
    assert set(warp["properties"]) == {k for k, p in kwargs.items() if p.kind == p.KEYWORD_ONLY}
    defaults = {k: p.default for k, p in kwargs.items() if p.kind == p.KEYWORD_ONLY}
    assert _defaults(warp) == defaults


def test_demo_dataset_params_are_the_builders_arguments():
    import inspect

    from pathfm.commands.build_demo_dataset import BUILDERS

    defs = _schema("patch_bench.schema.yaml")["$defs"]["demo_params"]
    for kind, builder in BUILDERS.items():
        args = {k: p.default for k, p in inspect.signature(builder).parameters.items()
                if k not in ("root", "seed")}
        assert set(defs[kind]["properties"]) == set(args), kind
        assert _defaults(defs[kind]) == _plain(args), kind


def test_job_blocks_are_passed_on_as_written():
    """Defaults of these blocks are documented, not filled in: the job resolves them."""
    written = _demo()
    filled = copy.deepcopy(written)
    fill_defaults(filled, _schema("config.schema.yaml"), SCHEMAS)
    for run, spec in written["train"]["runs"].items():
        assert filled["train"]["runs"][run]["ssl"] == spec["ssl"]
        assert filled["train"]["runs"][run]["multicrop"] == spec["multicrop"]
    assert filled["cohorts"]["demo"]["synth"] == written["cohorts"]["demo"]["synth"]
    for run, spec in written["distill"]["runs"].items():
        assert filled["distill"]["runs"][run]["config"] == spec.get("config", {})
    assert filled["sweeps"]["common"] == written["sweeps"]["common"]
    for axis, spec in written["sweeps"]["axes"].items():
        assert filled["sweeps"]["axes"][axis]["common"] == spec.get("common", {})
        assert filled["sweeps"]["axes"][axis]["values"] == spec.get("values")
    assert filled["patch_bench"]["linear_probe"]["overrides"] == (
        written["patch_bench"]["linear_probe"]["overrides"])
    # Sections the schema does fill still get their defaults.
    assert filled["train"]["runs"][RUN]["patching"]["max_open_slides"] == 64
    assert filled["train"]["runs"][RUN]["wsi_subset"] == {"fraction": 1.0, "seed": 0}


def _object_nodes(node, where: str):
    if isinstance(node, dict) and not where.endswith(("/if", "/not")):  # conditions, not shapes
        if node.get("type") == "object" or (isinstance(node.get("type"), list)
                                            and "object" in node["type"]):
            yield where, node
        for key, sub in node.items():
            yield from _object_nodes(sub, f"{where}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _object_nodes(sub, f"{where}/{i}")


# Objects whose keys are checked where they are used, not in the node itself.
CLOSED_ELSEWHERE = {
    # allOf'd into each slide task, whose unevaluatedProperties: false closes it
    "slide_bench.schema.yaml/$defs/source",
    # checked per dataset kind by the dataset's allOf (then: params: $defs.demo_params.{kind})
    "patch_bench.schema.yaml/properties/datasets/additionalProperties/properties/params",
}


def test_every_object_of_the_schemas_is_closed():
    """No free-form object is left: each names its keys (additionalProperties: false),
    types its values, restricts its names, or takes its keys from a $ref / branches."""
    open_nodes = []
    for path in sorted(SCHEMAS.glob("*.schema.yaml")):
        for where, node in _object_nodes(yaml.safe_load(path.read_text()), path.name):
            closed = (node.get("additionalProperties") is False
                      or isinstance(node.get("additionalProperties"), dict)
                      or "propertyNames" in node or "unevaluatedProperties" in node
                      or "$ref" in node or "then" in node or "allOf" in node)
            if not closed and where not in CLOSED_ELSEWHERE:
                open_nodes.append(where)
    assert open_nodes == []


# -- the DAG build stops --------------------------------------------------------------


@pytest.mark.workflow
def test_dry_run_stops_on_a_bad_block_naming_the_key(tmp_path):
    from tests.workflow.conftest import snakemake

    shutil.copytree(ROOT / "config", tmp_path / "config")
    bad = {"train": {"runs": {RUN: {"ssl": {"steps": -5}}}}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    result = snakemake("-n", "--cores", "1", "--configfile", "config/config.yaml", "bad.yaml",
                       cwd=Path(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert f"config {TRAIN}.ssl.steps: -5 is less than the minimum of 1" in output
    assert "Building DAG of jobs" not in result.stdout
    assert "Failed validating" not in output and len(output.splitlines()) < 20, output


def test_fill_defaults_follows_pointers_and_skips_no_fill_blocks(tmp_path):
    (tmp_path / "part.schema.yaml").write_text(yaml.safe_dump({"$defs": {"run": {
        "type": "object", "properties": {"k": {"default": 3},
                                         "block": {"type": "object", "default": {},
                                                   "x-fill-defaults": False,
                                                   "properties": {"n": {"default": 1}}}}}}}))
    schema = {"type": "object", "properties": {
        "runs": {"type": "object", "default": {},
                 "additionalProperties": {"$ref": "part.schema.yaml#/$defs/run"}},
        "local": {"$ref": "#/$defs/local", "default": {}},
        "over": {"$ref": "part.schema.yaml#/$defs/run", "default": {}, "x-fill-defaults": False},
    }, "$defs": {"local": {"type": "object", "properties": {"x": {"default": "y"}}}}}
    config = {"runs": {"a": {}, "b": {"k": 5, "block": {"m": 2}}}}
    fill_defaults(config, schema, tmp_path)
    assert config["runs"] == {"a": {"k": 3, "block": {}}, "b": {"k": 5, "block": {"m": 2}}}
    assert config["local"] == {"x": "y"}
    assert config["over"] == {}


@pytest.mark.parametrize("bad", [{"max_unpacked_gib": 0}, {"max_members": 0},
                                 {"deadline_hours": -1}, {"deadline_hour": 2}])
def test_download_bounds_are_checked(demo_config, bad):
    demo_config["downloads"] = bad
    with pytest.raises(ConfigError) as err:
        check_schema(demo_config, SCHEMAS / "config.schema.yaml")
    assert "downloads" in str(err.value)
