"""Settings of the kaiko and H0-mini papers, read from the resolved paper configuration."""

from __future__ import annotations

import pytest
import yaml

from pathfm.bench.linear_probe import get_protocol

from .conftest import ROOT, resolved

KAIKO_PHASE1 = ("kaiko-vits16-repro-p1", "kaiko-vits8-repro-p1", "kaiko-vitb16-repro-p1",
                "kaiko-vitb8-repro-p1", "kaiko-vitl14-repro-p1")


@pytest.fixture(scope="module")
def paper():
    return resolved("config/paper.yaml")


@pytest.fixture(scope="module")
def registry():
    return yaml.safe_load((ROOT / "config" / "models.yaml").read_text())["models"]


@pytest.mark.parametrize("run", KAIKO_PHASE1)
def test_kaiko_runs_start_from_imagenet_ssl_weights_of_their_architecture(paper, registry, run):
    # kaiko §II-A deviation 1 / §IV-C (i): "model initialization ... using ImageNet SSL weights".
    spec = paper["train"]["runs"][run]
    init = spec["init"]
    assert init.endswith("-imagenet") and init in registry, f"{run}: init {init!r}"
    assert registry[init]["builder"]["arch"].split(".")[0] == \
        registry[spec["model"]]["builder"]["arch"].split(".")[0]
    assert registry[init]["weights"]["hub_id"].startswith("timm/")


@pytest.mark.parametrize("run", ["kaiko-vitl14-repro-p1", "kaiko-vitl14-repro"])
def test_dinov2_runs_use_dinov2s_weight_decay_end(paper, run):
    assert paper["train"]["runs"][run]["ssl"]["optim"]["weight_decay_end"] == 0.4


def test_kaiko_probe_is_table_vi_and_eva_trains_as_eva(paper):
    lp = paper["patch_bench"]["linear_probe"]
    assert lp["protocols"] == ["kaiko2024", "eva"] and lp["overrides"] == {}
    kaiko = get_protocol("kaiko2024", lp["overrides"].get("kaiko2024"))
    assert (kaiko.optimizer, kaiko.momentum, kaiko.nesterov, kaiko.weight_decay) == ("sgd", 0.9, True, 0.0)
    assert (kaiko.lr, kaiko.ref_batch, kaiko.max_steps, kaiko.patience_rule) == (
        0.01, 4096, 12_500, "max_epochs_over_20")
    for name in lp["protocols"]:
        p = get_protocol(name, lp["overrides"].get(name))
        assert (p.drop_last, p.binary_logits, p.validate_partial_epoch) == (False, 1, False)


def test_every_probe_protocol_is_selectable_in_the_schema():
    from pathfm.bench.linear_probe import PROTOCOLS
    schemas = ROOT / "workflow" / "schemas"
    patch = yaml.safe_load((schemas / "patch_bench.schema.yaml").read_text())
    ablation = yaml.safe_load((schemas / "ablation.schema.yaml").read_text())
    enum = patch["properties"]["linear_probe"]["properties"]["protocols"]["items"]["enum"]
    assert sorted(enum) == sorted(PROTOCOLS)
    assert sorted(ablation["properties"]["protocols"]["items"]["enum"]) == sorted(PROTOCOLS)


KAIKO_FINAL = tuple(run.removesuffix("-p1") for run in KAIKO_PHASE1)


def test_every_model_the_paper_config_trains_is_embedded_and_in_its_table(paper):
    """A reproduction measures its own product: every final training and distillation run
    is embedded (so every benchmark of the embedded models scores it) and stands in its
    paper's rows beside the release."""
    embedded = set(paper["embed"]["models"])
    made = set(KAIKO_FINAL) | {"h0-mini-repro", "gpfm-repro"}
    assert made <= embedded, sorted(made - embedded)
    kaiko = paper["tables"]["published_as"]["kaiko"]
    for run in KAIKO_FINAL:
        released = run.removesuffix("-repro")
        assert kaiko[run] == kaiko[released] and kaiko[run].endswith("(ours)")
    assert paper["tables"]["published_as"]["h0mini"]["h0-mini-repro"] == "H0-mini"


def test_h0mini_table2_has_the_slide_columns_and_all_leaves_bach_out(paper):
    t = paper["tables"]["targets"]["h0mini_table2_eva"]
    assert t["cells"]["Cam16"] == "slide_classification-eva/camelyon16/balanced_accuracy"
    assert t["cells"]["PANDA"] == "slide_classification-eva/panda/balanced_accuracy"
    assert t["average"]["of"] == ["CRC", "MHIST", "PCam", "Cam16", "PANDA", "CoNSeP", "MoNuSAC"]
    import pandas as pd
    published = pd.read_csv(ROOT / "config" / "paper_values" / "h0mini_table2_eva.csv")
    gap = (published[t["average"]["of"]].mean(axis=1) - published["All"]).abs()
    assert gap.max() < 5e-4  # the paper's All, row by row, to its rounding


def test_paper_registration_repeats_bit_for_bit(paper):
    assert paper["plism"]["registration"]["params"]["threads"] == 1
