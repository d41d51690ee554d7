"""The TCGA TP53 patch set's planner: its inputs, its command's settings, its config checks."""

from __future__ import annotations

import copy
import json
import math

import pytest

from pathfm.sources.tp53_patches import TP53PatchParams
from pathfm.workflow.plan import Plan
from pathfm.workflow.tp53 import TP53PatchPlan
from pathfm.workflow.validate import ConfigError
from tests.workflow.test_paper_dry_run import placeholder_manifest

from .conftest import ROOT, resolved

NOTHING = lambda path: False  # noqa: E731
COHORT = "tcga_kaiko_ffpe"


@pytest.fixture(scope="module")
def _paper_config():
    return resolved("config/paper.yaml")


@pytest.fixture
def paper_config(_paper_config):
    return copy.deepcopy(_paper_config)


def _plan(config, manifest_dir=None) -> tuple[Plan, TP53PatchPlan]:
    def checkpoint(rule, cohort):
        return str(manifest_dir / f"{cohort}.tsv")

    plan = Plan(config, ROOT, checkpoint, exists=NOTHING)
    return plan, TP53PatchPlan(config, plan.cohorts)


def test_the_paper_set_reads_the_all_tissue_ffpe_cohort(paper_config, tmp_path):
    n = 120
    placeholder_manifest(COHORT, n, seed=0).to_csv(tmp_path / f"{COHORT}.tsv", sep="\t",
                                                   index=False)
    plan, sets = _plan(paper_config, tmp_path)
    assert sets.names() == ["tp53"] and sets.cohort("tp53") == COHORT
    assert paper_config["cohorts"][COHORT]["strategies"] == ["Diagnostic Slide"]
    assert set(paper_config["cohorts"][COHORT]["projects"]) == set(
        paper_config["labels"]["tp53"]["projects"])
    # slides_per_job 50: the shard markers, each slide's files behind them.
    shards = range(math.ceil(n / 50))
    assert sets.slide_inputs("tp53") == [f"results/slides/{COHORT}/shards/{k:05d}.shard.json"
                                         for k in shards]
    assert sets.mask_inputs("tp53") == [f"results/masks/{COHORT}/shards/{k:05d}.shard.json"
                                        for k in shards]
    assert sets.manifest("tp53") == f"results/manifests/{COHORT}.tsv"
    assert sets.label_table("tp53") == "results/labels/tp53.tsv"
    assert sets.masks_dir("tp53") == f"results/masks/{COHORT}"
    assert sets.mpp_policy("tp53") == "fallback" and sets.seed("tp53") == 0
    assert json.loads(sets.settings_json("tp53")) == TP53PatchParams().to_dict()
    assert TP53PatchParams().n_patches == 102_400  # kaiko Table V
    # Past its folder the set is embedded and probed like any TP53 set, for every model.
    assert plan.patch.embed_source_argv("tp53", "results/datasets/tp53") == [
        "--kind", "tp53", "--root", "results/datasets/tp53"]
    models = plan.patch.embed_models()
    tp53_results = [t for t in plan.patch.targets() if t.startswith("results/bench/tp53/")]
    assert tp53_results == [f"results/bench/tp53/tp53/{m}.json" for m in models]


def test_settings_left_out_are_the_codes_defaults(paper_config):
    paper_config["patch_bench"]["datasets"]["tp53"]["params"] = {
        "cohort": COHORT, "sampling": "slide_uniform"}
    paper_config["patch_bench"]["datasets"]["tp53"]["seed"] = 7
    _, sets = _plan(paper_config)
    assert json.loads(sets.settings_json("tp53")) == {**TP53PatchParams().to_dict(),
                                                      "sampling": "slide_uniform"}
    assert sets.label_table("tp53") == "results/labels/tp53.tsv" and sets.seed("tp53") == 7


@pytest.mark.parametrize("change, message", [
    (lambda c: c["patch_bench"]["datasets"]["tp53"]["params"].update(cohort="tcga_nope"),
     "params.cohort: 'tcga_nope' is not a cohort"),
    (lambda c: c["labels"].pop("tp53"), "params.labels: 'tp53' is not in labels"),
    (lambda c: c["labels"]["tp53"].update(projects=["TCGA-BRCA"]),
     "labels.tp53.projects leaves out"),
])
def test_a_set_the_config_cannot_make_is_named(paper_config, change, message):
    change(paper_config)
    with pytest.raises(ConfigError, match=message) as err:
        _plan(paper_config)
    assert str(err.value).startswith("config patch_bench.datasets.tp53.params")
