"""pathfm.workflow.cohorts: slide ids, shards and what consumers of a cohort depend on."""

import pytest

from pathfm.workflow.cohorts import CohortPlan

from .conftest import resolved


def _gdc_config(demo_config, slides_per_job=1, manifest=None):
    demo_config["cohorts"]["tcga"] = {
        **demo_config["cohorts"]["demo"], "source": "gdc", "projects": ["TCGA-COAD"],
        "strategies": ["Diagnostic Slide"], "n_slides": 5, "seed": 3, "stratify": None,
        "manifest": manifest, "slides_per_job": slides_per_job, "controlled_access": False,
    }
    return demo_config


def _manifest(tmp_path, ids):
    path = tmp_path / "tcga.tsv"
    rows = ["slide_id\tpath\tmd5"] + [f"{s}\tresults/slides/tcga/{s}.svs\t{'0' * 32}"
                                      for s in ids]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_synthetic_slide_ids_and_seeds(demo_config):
    plan = CohortPlan(demo_config)
    ids = plan.slide_ids("demo")
    assert ids == [f"demo_{i:03d}" for i in range(8)]
    assert plan.synth_seed("demo", "demo_003") == demo_config["cohorts"]["demo"]["seed"] + 3
    assert plan.synth_inputs("demo")["truth"][0] == "results/synth/demo/demo_000"


def test_gdc_slide_ids_come_from_the_checkpoint(demo_config, tmp_path):
    asked = []

    def checkpoint(rule, **wildcards):
        asked.append((rule, wildcards))
        return _manifest(tmp_path, ["s1", "s2"])

    plan = CohortPlan(_gdc_config(demo_config), checkpoint)
    assert plan.slide_ids("tcga") == ["s1", "s2"]
    assert asked == [("gdc_manifest", {"cohort": "tcga"})]
    assert plan.gdc(frozen=False) == ["tcga"] and plan.gdc(frozen=True) == []


def test_frozen_manifest_cohort_uses_the_frozen_checkpoint(demo_config, tmp_path):
    rules = []
    plan = CohortPlan(_gdc_config(demo_config, manifest="pinned.tsv"),
                      lambda rule, **w: rules.append(rule) or _manifest(tmp_path, ["a"]))
    assert plan.slide_ids("tcga") == ["a"] and rules == ["frozen_manifest"]
    assert plan.manifest_source("tcga") == "pinned.tsv"


def test_slide_ids_outside_a_run_say_so(demo_config):
    with pytest.raises(RuntimeError, match="gdc_manifest"):
        CohortPlan(_gdc_config(demo_config)).slide_ids("tcga")


def test_gdc_query_args_are_quoted(demo_config):
    args = CohortPlan(_gdc_config(demo_config)).gdc_query_args("tcga")
    assert args == ("--projects TCGA-COAD --strategies 'Diagnostic Slide' "
                    "--n-slides 5 --seed 3")


def test_per_slide_files(demo_config):
    plan = CohortPlan(demo_config)
    assert plan.slide_files("demo", "masks", ["demo_001"]) == [
        "results/masks/demo/demo_001/mask.json"]
    assert plan.slide_files("demo", "tiles", ["demo_001"], tiling="t") == [
        "results/tiles/demo/t/demo_001.zarr"]
    assert len(plan.files("tiles")) == 8 and plan.files("qc") == ["results/qc/demo/summary.png"]


def test_sharded_cohort_depends_on_shard_markers(demo_config, tmp_path):
    ids = [f"s{i}" for i in range(7)]
    plan = CohortPlan(_gdc_config(demo_config, slides_per_job=3),
                      lambda rule, **w: _manifest(tmp_path, ids))
    assert plan.sharded() == ["tcga"] and plan.sharded(gdc_only=True) == ["tcga"]
    # s1 and s4 sit in shards 0 and 1 of runs of 3 slides.
    assert plan.slide_files("tcga", "masks", ["s1", "s4"]) == [
        "results/masks/tcga/shards/00000.shard.json", "results/masks/tcga/shards/00001.shard.json"]
    assert plan.slide_files("tcga", "tiles", ["s6"], tiling="t") == [
        "results/tiles/tcga/t/shards/00002.shard.json"]
    assert plan.shard_ids("tcga", "00002") == ["s6"]
    assert plan.shard_slide_inputs("tcga", "00001") == ["results/slides/tcga/shards/00001.shard.json"]


def test_sharded_synthetic_cohort_keeps_per_slide_renders(demo_config):
    demo_config["cohorts"]["demo"]["slides_per_job"] = 4
    plan = CohortPlan(demo_config)
    assert plan.slide_files("demo", "slides", ["demo_005"]) == ["results/slides/demo/demo_005.svs"]
    assert plan.shard_slide_inputs("demo", 1) == [f"results/slides/demo/demo_00{i}.svs"
                                                  for i in range(4, 8)]
    assert plan.slide_files("demo", "masks", ["demo_005"]) == [
        "results/masks/demo/shards/00001.shard.json"]


def test_mask_and_tiling_parameters_are_parsed(demo_config):
    plan = CohortPlan(demo_config)
    assert '"mpp":2.0' in plan.mask_json()
    assert '"tile_px":224' in plan.tiling_json("mpp0.50_px224")
    demo_config["mask"]["saturation_treshold"] = 1
    with pytest.raises(Exception, match="saturation_treshold"):
        CohortPlan(demo_config)


def test_paper_cohorts():
    plan = CohortPlan(resolved("config/paper.yaml"))
    assert "tcga_h0mini" in plan.gdc() and not plan.of_source("synthetic")
    assert plan.label_tables() == [f"results/labels/{k}.tsv" for k in plan.labels]
