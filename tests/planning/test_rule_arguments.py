"""The planners' argument helpers: what each rule's params become for the demo config."""

import json

from pathfm.workflow.plan import Plan

from .conftest import ROOT

NOTHING = lambda path: False  # noqa: E731


def test_training_resources_and_sections(demo_config):
    training = Plan(demo_config, ROOT, exists=NOTHING).training
    run = demo_config["train"]["runs"]["demo-vit-s8"]
    assert training.arch("demo-vit-s8") == run["model"]
    assert [training.resource("demo-vit-s8", k) for k in ("gpu", "mem_mb", "runtime")] == [
        run["gpu"], run["mem_mb"], run["runtime"]]
    assert json.loads(training.section_json("demo-vit-s8", "patching")) == run["patching"]
    assert training.registry_option() == ""
    spec = demo_config["distill"]["runs"]["demo-h0-mini"]
    assert training.distill_manifest("demo-h0-mini") == f"results/manifests/{spec['cohort']}.tsv"
    assert training.distill_slides_dir("demo-h0-mini") == f"results/slides/{spec['cohort']}"
    assert training.distill_resource("demo-h0-mini", "mem_mb") == spec["mem_mb"]


def test_patch_dataset_arguments(demo_config):
    patch = Plan(demo_config, ROOT, exists=NOTHING).patch
    assert set(patch.datasets_of("demo")) == set(demo_config["patch_bench"]["datasets"])
    assert patch.datasets_of("fetch") == []
    hest = patch.hest_dataset()
    assert patch.fetch_tasks_arg(hest).split()[1:] == patch.hest["tasks"]
    assert patch.fetch_tasks_arg("crc") == "" and patch.dataset("crc")["kind"] == "crc"
    e = demo_config["embed"]
    assert patch.embed_settings() == (
        f"--dtype {e['dtype']} --batch-size {e['batch_size']} --workers {e['workers']}"
        f" --shard-size {e['shard_size']} --autocast {e['autocast']}")
    h = demo_config["patch_bench"]["hest"]
    assert patch.hest_options().startswith(f"--pca-dim {h['pca_dim']} --seed {h['seed']}")
    tp53 = demo_config["patch_bench"]["tp53"]
    assert patch.tp53_overrides_name() == (tp53["overrides_name"]
                                           or demo_config["patch_bench"]["linear_probe"]
                                           ["overrides_name"])


def test_plism_arguments(demo_config):
    plism = Plan(demo_config, ROOT, exists=NOTHING).plism
    name = plism.report_set()
    slides = plism.slides(name)
    assert plism.transforms(name)[0] == f"results/plism/{name}/transforms/{slides[0]}.tfm"
    assert plism.hub_files(name)[0] == f"results/plism/{name}/hub/{slides[0]}_to_GMH_S60.tif.h5"
    assert plism.pairs(name, ["x"] * len(slides)).split() == [f"{s}=x" for s in slides]
    assert plism.slide_args(name).split()[0] == (
        f"{slides[0]}=results/plism/{name}/slides/{slides[0]}.svs")
    assert plism.expected_tiles_arg(name) in ("", f"--expected-tiles "
                                              f"{plism.spec(name)['hub_expected_tiles']}")
    assert set(json.loads(plism.tiling_json())) == {"tile_px", "target_mpp", "min_tissue", "mask"}
    assert set(json.loads(plism.metric_json())) == {"dtype", "top_k", "rank_rule", "chunk",
                                                     "device"}
    assert plism.report_inputs() == [f"results/bench/plism/{name}/{m}.json"
                                     for m in plism.models()]


def test_slide_bench_arguments(demo_config):
    slides = Plan(demo_config, ROOT, exists=NOTHING).slides
    name = next(iter(slides.demo_cohorts))
    assert slides.demo_tile_stores(name, "F").split()[0] == "F/tiles/demo-slide-000.zarr"
    rank = demo_config["slide_bench"]["rank"]
    assert slides.rank_entries_args().count("--entry ") == len(rank["entries"])
    assert slides.rank_reference_arg() == (f"--reference {rank['reference']}"
                                           if rank["reference"] else "")
    pairs = {(e["benchmark"], e["task"]) for e in rank["entries"]}
    assert len(slides.rank_inputs()) == len(pairs) * len(slides.models())
    seg = next(iter(demo_config["slide_bench"]["segmentation"]["tasks"]))
    assert slides.seg_images(seg).startswith("results/slide_tasks/")
    assert slides.fetched_datasets() == []

    class Named(dict):
        __getattr__ = dict.__getitem__

    assert slides.table_args(Named(cohort="C"), "labels.tsv") == "--table C/labels.tsv"
    assert slides.table_args(Named(table="T"), "x") == "--table T"
    assert slides.table_args(Named(labels="L", slides="S"), "x") == "--table L --slides S"


def test_slide_dataset_settings(demo_config):
    demo_config["slide_bench"]["datasets"]["camelyon16"] = {
        "slides_per_job": 10, "max_tiles": 10000, "mpp": 0.5, "tile_px": 224,
        "min_tissue": 0.25, "seed": 0}
    slides = Plan(demo_config, ROOT, exists=NOTHING).slides
    assert slides.dataset_runtime("camelyon16") == 15 + 10 * 6
    assert slides.dataset_tiling("camelyon16") == {"mpp": 0.5, "tile_px": 224,
                                                   "min_tissue": 0.25, "stride_px": 224}
    assert slides.fetched_datasets() == ["camelyon16"]


def test_cohort_labels_and_access(demo_config):
    demo_config["labels"] = {"tp53": {"projects": ["TCGA-BRCA"]}}
    cohorts = Plan(demo_config, ROOT, exists=NOTHING).cohorts
    assert cohorts.label_projects("tp53") == ["TCGA-BRCA"]
    assert not cohorts.controlled_access()
    assert cohorts.synth_params("demo") == demo_config["cohorts"]["demo"]["synth"]


def test_step_commands_are_pathfm_subcommands():
    assert Plan.script("train_ssl.py") == "train-ssl" and Plan.script("embed.py") == "embed"


def test_every_rule_command_exists():
    import re

    from pathfm.cli import subcommands

    named = {m for f in (ROOT / "workflow" / "rules").glob("*.smk")
             for m in re.findall(r'PLAN\.script\("(\w+)\.py"\)', f.read_text())}
    assert len(named) > 30
    assert {Plan.script(f"{m}.py") for m in named} <= set(subcommands())


def test_download_limits_reach_every_fetching_rule(demo_config):
    """The ``downloads`` bounds become options; the deadline is omitted when null."""
    plan = Plan(demo_config, ROOT, exists=NOTHING)
    assert demo_config["downloads"] == {"max_unpacked_gib": 32, "max_members": 1_000_000,
                                        "deadline_hours": None}
    assert plan.download_limits_argv() == []
    assert plan.download_limits_argv(archives=True) == [
        "--max-unpacked-gib", "32", "--max-members", "1000000"]
    demo_config["downloads"].update(max_unpacked_gib=0.5, deadline_hours=2)
    plan = Plan(demo_config, ROOT, exists=NOTHING)
    assert plan.download_limits_argv() == ["--deadline-hours", "2"]
    assert plan.download_limits_argv(archives=True)[:4] == [
        "--deadline-hours", "2", "--max-unpacked-gib", "0.5"]
    rules = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    # download_slide, download_slide_shard and the three dataset fetches
    assert rules.count("PLAN.download_limits_argv(") == 5
