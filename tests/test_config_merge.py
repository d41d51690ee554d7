"""The one deep merge of configs and its checked variant (unknown keys are errors)."""

import copy

import pytest

from pathfm import sweeps
from pathfm.config_merge import check_known_keys, deep_merge, merge_known
from pathfm.train import distill_config, ssl

BASE = {"a": 1, "nested": {"x": 1, "y": [1, 2], "deeper": {"p": 1, "q": 2}},
        "items": [1, 2, 3], "maybe": None}


def test_one_implementation():
    assert deep_merge is sweeps.deep_merge


def test_nested_dicts_merge_lists_and_scalars_replace():
    over = {"a": 2, "nested": {"y": [9], "deeper": {"q": 5}}, "items": [7], "maybe": {"k": 1}}
    assert deep_merge(BASE, over) == {
        "a": 2, "nested": {"x": 1, "y": [9], "deeper": {"p": 1, "q": 5}},
        "items": [7], "maybe": {"k": 1}}
    # A scalar replaces a mapping and a mapping replaces a scalar.
    assert deep_merge(BASE, {"nested": 3})["nested"] == 3
    assert deep_merge(BASE, {"a": {"b": 1}})["a"] == {"b": 1}
    assert deep_merge(BASE, {"new": 1})["new"] == 1  # the plain merge takes any key


def test_inputs_are_not_mutated_or_shared():
    base, over = copy.deepcopy(BASE), {"nested": {"y": [9]}, "items": [7]}
    before_base, before_over = copy.deepcopy(base), copy.deepcopy(over)
    out = deep_merge(base, over)
    assert base == before_base and over == before_over
    out["nested"]["x"] = 100
    out["nested"]["y"].append(1)
    out["items"].append(1)
    out["nested"]["deeper"]["p"] = 100
    assert base == before_base and over == before_over


def test_merge_known_merges_like_deep_merge():
    over = {"a": 2, "nested": {"deeper": {"q": 5}}}
    assert merge_known(over, BASE, "test config") == deep_merge(BASE, over)
    assert merge_known(None, BASE, "test config") == BASE
    assert merge_known({"a": {"free": 1}}, BASE, "test config")["a"] == {"free": 1}


@pytest.mark.parametrize("over, path", [
    ({"b": 1}, "b"),
    ({"nested": {"z": 1}}, "nested.z"),
    ({"nested": {"x": 2, "deeper": {"r": 1}}}, "nested.deeper.r"),
    ({"nested": {"zz": 1}, "aa": 1}, "nested.zz"),  # the first unknown key, depth first
])
def test_unknown_key_names_its_full_path(over, path):
    with pytest.raises(KeyError, match=rf"unknown test config key 'pre\.{path}'; known: \["):
        merge_known(over, BASE, "test config", "pre.")
    with pytest.raises(KeyError):
        check_known_keys(over, BASE, "test config")


def test_callers_name_their_config_in_the_error():
    with pytest.raises(KeyError, match=r"unknown SSL config key 'optim\.lrr'; known: \['betas'"):
        ssl.resolve_config({"optim": {"lrr": 1}})
    with pytest.raises(KeyError, match=r"unknown distill config key 'experts\[0\]\.wieght'"):
        distill_config.resolve_distill_config(
            {"method": "gpfm", "experts": [{"model": "a", "wieght": 1}]})
    with pytest.raises(KeyError, match=r"unknown distill config key 'optim\.lrr'"):
        distill_config.resolve_distill_config({"method": "h0mini", "optim": {"lrr": 1}})


def test_ssl_resolve_keeps_defaults_and_fills_objective_defaults():
    defaults = copy.deepcopy(ssl.DEFAULT_CONFIG)
    cfg = {"objective": "dino", "optim": {"betas": [0.8, 0.9]}}
    out = ssl.resolve_config(cfg)
    assert out["optim"]["betas"] == [0.8, 0.9] and out["optim"]["lr"] == defaults["optim"]["lr"]
    assert out["loss"]["centering"] == "ema" and out["loss"]["koleo_weight"] == 0.0
    assert ssl.DEFAULT_CONFIG == defaults
    assert cfg == {"objective": "dino", "optim": {"betas": [0.8, 0.9]}}
