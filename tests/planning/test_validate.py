"""Each cross-key check of pathfm.workflow.validate, fed a config with one bad key."""

import re

import pytest

from pathfm.workflow.validate import ConfigError, validate_config

from .conftest import resolved


@pytest.mark.parametrize("config_file", ["config/config.yaml", "config/paper.yaml"])
def test_shipped_configs_pass(config_file):
    validate_config(resolved(config_file))


def _fails(config, key):
    with pytest.raises(ConfigError, match=rf"^config {re.escape(key)}:"):
        validate_config(config)


def test_tiling_name_must_match_its_settings(demo_config):
    name = next(iter(demo_config["tilings"]))
    demo_config["tilings"]["renamed"] = demo_config["tilings"].pop(name)
    _fails(demo_config, "tilings.renamed")


def test_synthetic_cohort_needs_n_slides(demo_config):
    cohort = next(c for c, s in demo_config["cohorts"].items() if s["source"] == "synthetic")
    demo_config["cohorts"][cohort]["n_slides"] = 0
    _fails(demo_config, f"cohorts.{cohort}")


def test_gdc_cohort_needs_projects_or_manifest(demo_config):
    demo_config["cohorts"]["tcga"] = {"source": "gdc", "tilings": []}
    _fails(demo_config, "cohorts.tcga")


def test_cohort_tiling_must_be_defined(demo_config):
    cohort = next(iter(demo_config["cohorts"]))
    demo_config["cohorts"][cohort]["tilings"] = ["no-such-tiling"]
    _fails(demo_config, f"cohorts.{cohort}.tilings")


def test_train_run_cohort_must_exist(demo_config):
    run = next(iter(demo_config["train"]["runs"]))
    demo_config["train"]["runs"][run]["cohorts"] = ["nowhere"]
    with pytest.raises(ValueError, match=rf"config train\.runs\.{re.escape(run)}\.cohorts"):
        validate_config(demo_config)


def test_train_run_init_must_be_known(demo_config):
    run = next(iter(demo_config["train"]["runs"]))
    demo_config["train"]["runs"][run]["init"] = "no-such-model"
    with pytest.raises(ValueError, match=rf"config train\.runs\.{re.escape(run)}\.init"):
        validate_config(demo_config)


@pytest.mark.parametrize("section", ["embed", "plism", "slide_bench"])
def test_model_lists_name_known_models(demo_config, section):
    demo_config[section]["models"] = ["no-such-model"]
    _fails(demo_config, f"{section}.models")


def test_plism_reference_must_be_a_slide_of_the_set(demo_config):
    name = next(iter(demo_config["plism"]["sets"]))
    demo_config["plism"]["sets"][name]["reference"] = "XX_YY"
    _fails(demo_config, f"plism.sets.{name}")


def test_raw_plism_set_needs_raw_dir(demo_config):
    name = next(iter(demo_config["plism"]["sets"]))
    demo_config["plism"]["sets"][name].update(source="raw", raw_dir=None)
    _fails(demo_config, f"plism.sets.{name}")


def _first_task(config, family):
    return next(iter(config["slide_bench"][family]["tasks"]))


def test_slide_task_needs_exactly_one_source(demo_config):
    task = _first_task(demo_config, "classification")
    spec = demo_config["slide_bench"]["classification"]["tasks"][task]
    spec["slide_dataset"] = "camelyon16"
    _fails(demo_config, f"slide_bench.classification.tasks.{task}")


def test_slide_task_cohort_must_exist(demo_config):
    task = _first_task(demo_config, "survival")
    demo_config["slide_bench"]["survival"]["tasks"][task]["cohort"] = "nowhere"
    _fails(demo_config, f"slide_bench.survival.tasks.{task}.cohort")


def test_slide_task_dataset_must_exist(demo_config):
    task = _first_task(demo_config, "classification")
    spec = demo_config["slide_bench"]["classification"]["tasks"][task]
    spec.pop("cohort")
    spec["slide_dataset"] = "nowhere"
    _fails(demo_config, f"slide_bench.classification.tasks.{task}.slide_dataset")


def test_slide_dataset_only_for_classification(demo_config):
    task = _first_task(demo_config, "retrieval")
    spec = demo_config["slide_bench"]["retrieval"]["tasks"][task]
    demo_config["slide_bench"]["datasets"]["camelyon16"] = {"slides_per_job": 1}
    spec.pop("cohort")
    spec["slide_dataset"] = "camelyon16"
    _fails(demo_config, f"slide_bench.retrieval.tasks.{task}")


def test_gdc_cohort_only_for_survival(demo_config):
    task = _first_task(demo_config, "classification")
    cohort = next(iter(demo_config["cohorts"]))
    tiling = demo_config["cohorts"][cohort]["tilings"][0]
    spec = demo_config["slide_bench"]["classification"]["tasks"][task]
    spec.pop("cohort")
    spec.update(gdc_cohort=cohort, tiling=tiling)
    _fails(demo_config, f"slide_bench.classification.tasks.{task}")


def test_gdc_survival_task_needs_the_cohorts_tiling(demo_config):
    task = _first_task(demo_config, "survival")
    cohort = next(iter(demo_config["cohorts"]))
    spec = demo_config["slide_bench"]["survival"]["tasks"][task]
    spec.pop("cohort")
    spec.update(gdc_cohort=cohort, tiling="not-its-tiling")
    _fails(demo_config, f"slide_bench.survival.tasks.{task}")


def test_segmentation_task_needs_exactly_one_source(demo_config):
    task = _first_task(demo_config, "segmentation")
    demo_config["slide_bench"]["segmentation"]["tasks"][task]["dataset"] = "consep"
    _fails(demo_config, f"slide_bench.segmentation.tasks.{task}")


def test_segmentation_sections_fit_the_cohort(demo_config):
    task = _first_task(demo_config, "segmentation")
    demo_config["slide_bench"]["segmentation"]["tasks"][task]["train"] = 10_000
    _fails(demo_config, f"slide_bench.segmentation.tasks.{task}")


def test_rank_entry_benchmark_must_exist(demo_config):
    entries = demo_config["slide_bench"]["rank"]["entries"]
    entries[0]["benchmark"] = "slide_clasification-eva"
    _fails(demo_config, "slide_bench.rank.entries[0].benchmark")


def test_ablation_task_must_be_probed(demo_config):
    demo_config["ablation"]["tasks"] = ["no-such-task"]
    _fails(demo_config, "ablation.tasks")


def test_ablation_protocol_must_be_run(demo_config):
    lp = demo_config["patch_bench"]["linear_probe"]
    missing = next(p for p in ("kaiko2024", "kaiko2024_epoch_cosine", "eva")
                   if p not in lp["protocols"])
    demo_config["ablation"]["protocols"] = [missing]
    _fails(demo_config, "ablation.protocols")


def test_sweep_axis_must_be_a_table_sweep(demo_config):
    axes = demo_config["sweeps"]["axes"]
    axes["magnifcation"] = axes.pop(next(iter(axes)))
    _fails(demo_config, "sweeps.axes.magnifcation")


def test_table_target_must_exist(demo_config):
    targets = demo_config["tables"]["targets"]
    targets["kaiko_tabel1_linear_probe"] = targets.pop("kaiko_table1_linear_probe")
    _fails(demo_config, "tables.targets.kaiko_tabel1_linear_probe")


def test_table_cell_benchmark_must_exist(demo_config):
    cells = demo_config["tables"]["targets"]["h0mini_table2_eva"]["cells"]
    cells["BACH"] = "linear_prob-eva/bach/balanced_accuracy"
    _fails(demo_config, "tables.targets.h0mini_table2_eva.cells.BACH")


def test_table_task_probe_benchmark_must_exist(demo_config):
    entry = demo_config["tables"]["targets"]["kaiko_fig6_unsupervised"]
    task = next(iter(entry["tasks"]))
    entry["tasks"][task] = "linear-probe-eva/crc/balanced_accuracy"
    _fails(demo_config, f"tables.targets.kaiko_fig6_unsupervised.tasks.{task}")


def test_published_as_names_a_paper(demo_config):
    demo_config["tables"]["published_as"]["kaiko2024"] = {}
    _fails(demo_config, "tables.published_as.kaiko2024")
