"""The stage planners of pathfm.workflow on the demo and paper configs, and on configs
with one setting changed: which jobs exist, what each reads, what `all` builds."""

import json

import pytest

from pathfm.workflow import paths
from pathfm.workflow.plan import Plan, plan_for, planned

from .conftest import ROOT, resolved

NOTHING = lambda path: False  # noqa: E731  (a workflow directory where nothing is built yet)


def _plan(config, exists=NOTHING):
    return Plan(config, ROOT, exists=exists)


def test_models_weights_come_from_training_distillation_or_the_hub(demo_config):
    models = _plan(demo_config).models
    assert models.weights("demo-vit-s8") == ["results/models/demo-vit-s8/weights.safetensors"]
    assert models.available("demo-vit-s8")  # train_ssl makes it
    assert models.available("demo-h0-mini")  # distill makes it
    assert models.available("kaiko-vits16")  # fetch_weights makes it
    assert models.weights("demo-vit-s8-random") == [] and models.weights_arg(
        "demo-vit-s8-random") == ""
    assert models.weights_arg("demo-vit-s8") == (
        "--weights results/models/demo-vit-s8/weights.safetensors")
    assert models.hub_args("kaiko-vits16").startswith("--hub-id ")


def test_unavailable_models_are_skipped_only_when_asked(demo_config):
    demo_config["train"]["runs"].pop("demo-vit-s8")
    demo_config["sweeps"]["axes"] = {}
    models = _plan(demo_config).models
    assert not models.available("demo-vit-s8")
    assert models.select(["demo-vit-s8", "demo-vit-s8-random"], True) == ["demo-vit-s8-random"]
    assert models.select(["demo-vit-s8"], False) == ["demo-vit-s8"]
    # An existing file counts as available.
    assert _plan(demo_config, exists=lambda p: "demo-vit-s8/" in p).models.available("demo-vit-s8")


def test_training_jobs(demo_config):
    training = _plan(demo_config).training
    run = "demo-vit-s8"
    assert training.manifests(run) == ["results/manifests/demo.tsv"]
    assert training.slide_inputs(run, "masks")[0] == "results/masks/demo/demo_000/mask.json"
    assert training.mask_dirs(run) == ["results/masks/demo"]
    assert training.mpp_policy(run) == "fallback"
    ssl = json.loads(training.ssl_json(run))
    assert ssl["objective"] == demo_config["train"]["runs"][run]["objective"]
    assert ssl["seed"] == demo_config["train"]["runs"][run]["seed"]
    subset = training.subset_runs()
    assert len(subset) == 1 and "wsi_subset.fraction=0.3" in subset[0]
    assert training.subset(subset[0]) == (0.3, 0)
    assert training.manifests(subset[0]) == [f"results/models/{subset[0]}/wsi_subset/demo.tsv"]
    assert len(training.ssl_targets()) == len(training.runs)


def test_training_init_from_another_run_is_an_input(demo_config):
    runs = demo_config["train"]["runs"]
    runs["warm"] = {**runs["demo-vit-s8"], "init": "demo-vit-s8"}
    training = _plan(demo_config).training
    assert training.init_input("warm") == ["results/models/demo-vit-s8/weights.safetensors"]
    assert training.init_option("warm") == (
        "--init results/models/demo-vit-s8/weights.safetensors")
    assert training.init_input("demo-vit-s8") == [] and training.init_option("demo-vit-s8") == ""


def test_distillation_jobs(demo_config):
    training = _plan(demo_config).training
    assert training.frozen_inputs("demo-h0-mini") == [
        "results/models/demo-h-optimus/weights.safetensors"]
    spec = demo_config["distill"]["runs"]["demo-h0-mini"]
    assert training.distill_tiles_dir("demo-h0-mini") == (
        f"results/tiles/{spec['cohort']}/{spec['tiling']}")
    assert training.distill_tiles("demo-h0-mini")[0].endswith("demo_000.zarr")
    assert json.loads(training.distill_json("demo-h0-mini"))
    assert training.distill_targets() == [paths.model_weights(m)
                                          for m in demo_config["distill"]["runs"]]


def test_patch_bench_embeddings_and_results(demo_config):
    patch = _plan(demo_config).patch
    assert patch.embedding_spec("crc") == {"folder": "crc", "kind": "crc", "task_args": "",
                                           "poolings_args": ""}
    hest = patch.hest_dataset()
    task = patch.hest["tasks"][0]
    spec = patch.embedding_spec(f"{hest}-{task}")
    assert spec["folder"] == hest and spec["task_args"] == f"--task {task}"
    assert spec["poolings_args"].startswith("--extra-poolings ")
    with pytest.raises(ValueError, match="patch_bench.datasets"):
        patch.embedding_spec("nosuchset")
    assert patch.embed_source_args("crc", "results/datasets/crc") == (
        "--kind crc --root results/datasets/crc")
    assert patch.hest_pooling("cls_mean") == "cls+mean"
    outs = patch.lp_outputs()
    assert outs == [f"results/bench/linear_probe-{p}/{{task}}/{{model}}.json"
                    for p in patch.lp["protocols"]]
    assert patch.lp_pairs(["a", "b"]) == " ".join(
        f"--protocol {p} --out {o}" for p, o in zip(patch.lp["protocols"], "ab"))
    n_models = len(patch.embed_models())
    per_model = (len(patch.lp["protocols"]) * len(patch.lp["tasks"])
                 + len(patch.hest_slugs()) * len(patch.hest["tasks"])
                 + len(patch.tp53["tasks"]) + len(patch.uns["tasks"]))
    assert len(patch.targets()) == n_models * per_model


def test_tp53_overrides_merge_over_its_protocol(demo_config):
    pb = demo_config["patch_bench"]
    pb["linear_probe"]["overrides"] = {pb["tp53"]["protocol"]: {"lr": 1, "epochs": 2}}
    pb["tp53"]["overrides"] = {"lr": 3}
    assert json.loads(_plan(demo_config).patch.tp53_overrides()) == {"epochs": 2, "lr": 3}


def test_plism_plan(demo_config):
    plism = _plan(demo_config).plism
    name = plism.set_names()[0]
    spec = plism.spec(name)
    slides = plism.slides(name)
    assert len(slides) == len(spec["stainings"]) * len(spec["scanners"])
    assert slides[0] == f"{spec['stainings'][0]}_{spec['scanners'][0]}"
    assert plism.register_inputs(name, slides[1]) == {
        "slides": [f"results/plism/{name}/slides"],
        "truth": [f"results/plism/{name}/ground_truth.json"]}
    assert plism.identity_flag(name, spec["reference"]) == "--identity"
    assert plism.per_slide(name, "d").split()[0] == f"{slides[0]}=d/{slides[0]}.zarr"
    targets = plism.targets()
    assert paths.bench_result("plism", name, plism.models()[0]) in targets
    assert "results/tables/h0mini_table3_plism.csv" in targets
    demo_config["plism"]["models"] = []
    assert _plan(demo_config).plism.targets() == []


def test_plism_raw_set_reads_each_wsi(demo_config):
    name = next(iter(demo_config["plism"]["sets"]))
    demo_config["plism"]["sets"][name].update(source="raw", raw_dir="/data/plism",
                                              raw_ext="tif")
    plism = _plan(demo_config).plism
    slide = plism.slides(name)[0]
    assert plism.slide_inputs(name, [slide]) == [f"/data/plism/{slide}.tif"]
    assert plism.register_inputs(name, slide)["truth"] == []


def test_slide_bench_plan(demo_config):
    slides = _plan(demo_config).slides
    family, task = "classification", next(iter(demo_config["slide_bench"]["classification"]
                                               ["tasks"]))
    cohort = slides.task(family, task)["cohort"]
    assert slides.task_inputs(family, task) == {"cohort": f"results/slide_tasks/{cohort}"}
    assert slides.task_embeddings("m", family, task) == [
        f"results/embeddings/m/slide_tasks/{cohort}.zarr"]
    seg_task = next(iter(demo_config["slide_bench"]["segmentation"]["tasks"]))
    args = slides.seg_args(seg_task, "F")
    assert args.startswith("--train F/segmentation/demo-slide-") and " --classes " in args
    assert len(slides.results()) == len(slides.models()) * sum(
        len(t) for t in slides.result_tasks().values())
    assert set(slides.rank_outputs()) <= set(slides.targets())


def test_slide_bench_gdc_and_dataset_shards(tmp_path):
    config = resolved("config/paper.yaml")
    manifest = tmp_path / "m.tsv"
    manifest.write_text("slide_id\tpath\tmd5\n" + "".join(
        f"s{i}\tx/s{i}.svs\t{'0' * 32}\n" for i in range(5)))
    table = tmp_path / "slides.tsv"
    table.write_text("slide_id\tpath\n" + "".join(f"c{i}\tc{i}.tif\n" for i in range(7)))

    def checkpoint(rule, **wildcards):
        return str(table if rule == "slide_dataset_table" else manifest)

    plan = Plan(config, ROOT, checkpoint_output=checkpoint, exists=NOTHING)
    config["embed"]["slides_per_job"] = 2
    assert plan.slides.cohort_shards("tcga_h0mini") == [["s0", "s1"], ["s2", "s3"], ["s4"]]
    assert plan.slides.cohort_shard_stores("tcga_h0mini", "t", 2) == [
        "results/tiles/tcga_h0mini/t/s4.zarr"]
    name = next(iter(config["slide_bench"]["datasets"]))
    per_job = config["slide_bench"]["datasets"][name]["slides_per_job"]
    shards = plan.slides.dataset_shards(name)
    assert sum(len(s) for s in shards) == 7 and len(shards[0]) == min(7, per_job)
    assert plan.slides.dataset_shard_stores(name, 0, "T")[0] == "T/c0.zarr"


def test_ablation_targets(demo_config):
    ablation = _plan(demo_config).ablation
    models = ablation.models()
    assert len(models) == len(set(models))
    assert ablation.probes(f"linear_probe-{ablation.protocols()[0]}", ablation.tasks()[0])
    assert not ablation.probes("linear_probe-nosuch", ablation.tasks()[0])
    per_task = [1 if t in demo_config["patch_bench"]["tp53"]["tasks"]
                else len(ablation.protocols()) for t in ablation.tasks()]
    assert len(ablation.targets()) == sum(per_task) * len(models)
    assert ablation.sweep_models(None) == {}


def test_ablation_unknown_model_is_named(demo_config):
    demo_config["ablation"]["models"] = ["no-such-model"]
    demo_config["embed"]["skip_unavailable"] = False
    with pytest.raises(ValueError, match="no-such-model"):
        _plan(demo_config).ablation.models()
    demo_config["embed"]["skip_unavailable"] = True
    assert "no-such-model" not in _plan(demo_config).ablation.models()


def test_produced_knows_every_benchmark_stage(demo_config):
    plan = _plan(demo_config)
    lp = f"linear_probe-{demo_config['patch_bench']['linear_probe']['protocols'][0]}"
    task = demo_config["patch_bench"]["linear_probe"]["tasks"][0]
    assert plan.produced(paths.bench_result(lp, task, "any-model"))
    assert not plan.produced(paths.bench_result(lp, "no-such-task", "any-model"))
    assert plan.produced(paths.bench_result("plism", plan.plism.set_names()[0], "m"))
    assert plan.produced(paths.bench_result("segmentation",
                                            plan.slides.result_tasks()["segmentation"][0], "m"))
    assert not plan.produced("results/models/x/weights.safetensors")
    assert _plan(demo_config, exists=lambda p: True).produced("anything")


def test_target_groups_and_run_time_summary(demo_config):
    plan = _plan(demo_config)
    groups = plan.target_groups()
    assert {"train", "distill", "patch_bench", "plism", "slide_bench", "sweeps", "tables",
            "provenance", "runtime", "labels", "tiles_demo", "qc_demo"} == set(groups)
    summary = plan.summary_inputs()
    assert paths.RUNTIME_SUMMARY not in summary and paths.PROVENANCE[0] not in summary
    assert set(groups["tables"]()) <= set(summary)
    assert set(plan.cohort_inputs("masks")) == {"demo"}


def test_plan_for_builds_once_per_config(demo_config):
    assert not planned(demo_config)
    first = plan_for(demo_config, ROOT)
    assert planned(demo_config) and plan_for(demo_config, ROOT) is first
    assert plan_for(dict(demo_config), ROOT) is not first
