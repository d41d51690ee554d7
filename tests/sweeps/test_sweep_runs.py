"""Derived sweep runs: deterministic names, one job per distinct point, overrides applied."""

from __future__ import annotations

import pytest

from pathfm.sweeps import (derived_name, derived_runs, diff, sweep_models, sweep_runs,
                           with_sweep_runs)

BASE = {
    "model": "demo-vit-s8", "objective": "dino", "cohorts": ["demo"], "init": "random",
    "seed": 0, "wsi_subset": {"fraction": 1.0, "seed": 0},
    "patching": {"patch_px": 96, "mpps": [2.0, 1.0, 0.5, 0.25], "distinct_patches": None},
    "ssl": {"steps": 70, "optim": {"lr": 1.0e-3, "warmup_steps": 10}},
}
RUNS = {"base": BASE, "other": {**BASE, "seed": 3}}


def sweeps(**axes):
    return {"base": "base", "common": {"ssl": {"steps": 25}}, "axes": axes}


def test_name_depends_only_on_the_settings_that_differ():
    assert derived_name("base", {}) == "base"
    name = derived_name("base", {"ssl": {"steps": 25}, "patching": {"mpps": [0.5, 0.25]}})
    assert name == "base@patching.mpps=0.5+0.25,ssl.steps=25"
    # Key order in the config does not matter.
    assert name == derived_name("base", {"patching": {"mpps": [0.5, 0.25]}, "ssl": {"steps": 25}})


def test_long_names_fall_back_to_a_stable_hash():
    changes = {"ssl": {f"key{i}": i for i in range(40)}}
    name = derived_name("base", changes)
    assert name.startswith("base@h") and len(name) == len("base@h") + 12
    assert name == derived_name("base", dict(reversed(list(changes.items()))))
    assert name != derived_name("base", {"ssl": {f"key{i}": i + 1 for i in range(40)}})


def test_shared_baseline_across_sweeps_is_one_run():
    cfg = sweeps(
        magnification={"values": {"20x": {"patching": {"mpps": [0.5]}},
                                  "mixed": {}}},
        objective={"values": {"DINO": {"objective": "dino"}, "DINOv2": {"objective": "dinov2"}}},
    )
    points = sweep_runs(cfg, RUNS)
    baseline = "base@ssl.steps=25"
    # 'mixed' (no override) and 'DINO' (the base's own objective) are the same point.
    assert points["magnification"]["mixed"] == points["objective"]["DINO"] == baseline
    derived = derived_runs(cfg, RUNS)
    assert sorted(derived) == sorted([baseline, "base@patching.mpps=0.5,ssl.steps=25",
                                      "base@objective=dinov2,ssl.steps=25"])


def test_overrides_are_deep_merged_over_the_base():
    cfg = sweeps(distinct_patches={"values": {"1e2": {"patching": {"distinct_patches": 100}},
                                              "lr": {"ssl": {"optim": {"lr": 5e-4}}}}})
    runs = with_sweep_runs(RUNS, cfg)
    spec = runs["base@patching.distinct_patches=100,ssl.steps=25"]
    assert spec["patching"]["distinct_patches"] == 100
    assert spec["patching"]["mpps"] == BASE["patching"]["mpps"]  # untouched keys kept
    assert spec["ssl"] == {"steps": 25, "optim": {"lr": 1.0e-3, "warmup_steps": 10}}
    lr = runs["base@ssl.optim.lr=0.0005,ssl.steps=25"]["ssl"]["optim"]
    assert lr == {"lr": 5e-4, "warmup_steps": 10}
    assert BASE["ssl"]["steps"] == 70  # the base run is not modified
    assert runs["base"] is BASE


def test_a_point_equal_to_its_base_is_the_base_run():
    cfg = {"base": "base", "axes": {"init": {"values": {"random": {"init": "random"}}}}}
    assert sweep_runs(cfg, RUNS) == {"init": {"random": "base"}}
    assert derived_runs(cfg, RUNS) == {}


def test_per_sweep_base_and_common():
    cfg = sweeps(init={"base": "other", "common": {"ssl": {"steps": 30}},
                       "values": {"random": {}}})
    assert sweep_runs(cfg, RUNS) == {"init": {"random": "other@ssl.steps=30"}}


def test_model_sweeps_name_models_and_derive_no_run():
    cfg = sweeps(expert_distillation={"models": {"on": "demo-gpfm", "off": "demo-gpfm-noexperts"}})
    assert sweep_models(cfg, RUNS, "expert_distillation") == {"on": "demo-gpfm",
                                                             "off": "demo-gpfm-noexperts"}
    assert derived_runs(cfg, RUNS) == {}
    assert sweep_models(cfg, RUNS, "magnification") == {}


def test_labels_keep_config_order():
    values = {"5x": {"patching": {"mpps": [2.0]}}, "40x": {"patching": {"mpps": [0.25]}},
              "20x": {"patching": {"mpps": [0.5]}}}
    assert list(sweep_models(sweeps(magnification={"values": values}), RUNS,
                             "magnification")) == ["5x", "40x", "20x"]


@pytest.mark.parametrize("over, message", [
    ({"patching": {"mpp": [0.5]}}, "patching.'mpp'"),
    ({"model": "demo-h-optimus"}, "architecture"),
])
def test_unknown_or_forbidden_override_keys_fail_naming_the_point(over, message):
    cfg = sweeps(magnification={"values": {"bad": over}})
    with pytest.raises(ValueError, match="sweeps.axes.magnification.values.bad") as err:
        sweep_runs(cfg, RUNS)
    assert message in str(err.value)


def test_unknown_base_fails():
    with pytest.raises(ValueError, match="sweeps.axes.x.base"):
        sweep_runs({"base": "nope", "axes": {"x": {"values": {"a": {}}}}}, RUNS)


def test_free_form_sections_accept_new_keys():
    cfg = sweeps(objective={"values": {"v2": {"ssl": {"heads": {"ibot_separate_head": True}}}}})
    assert "ssl.heads.ibot_separate_head=true" in sweep_runs(cfg, RUNS)["objective"]["v2"]


def test_diff_is_minimal():
    assert diff(BASE, BASE) == {}
    changed = {**BASE, "patching": {**BASE["patching"], "patch_px": 64}}
    assert diff(changed, BASE) == {"patching": {"patch_px": 64}}
