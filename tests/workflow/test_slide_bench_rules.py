"""Slide-benchmark rules: demo and paper dry-runs name the right jobs; the slide families run
end to end for one model on a tiny rendered cohort."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.dry_run import dag_jobs, has_args, pending_rules, planned_files, shell_commands

from .conftest import snakemake

pytestmark = [pytest.mark.workflow]

RANDOM = "demo-vit-s8-random"
DEMO_MODELS = ("demo-vit-s8", RANDOM, "demo-h-optimus", "demo-h0-mini", "demo-gpfm")


def slide_targets(model: str, grade: bool = True) -> list[str]:
    tasks = ["demo_metastasis"] + (["demo_grade"] if grade else [])
    out = [f"results/bench/slide_classification-{p}/{t}/{model}.json" for p in ("eva", "gpfm") for t in tasks]
    out += [f"results/bench/survival-{h}/demo_survival/{model}.json" for h in ("abmil_cox", "meanpool_coxph")]
    out += [f"results/bench/retrieval-{p}/demo_roi/{model}.json" for p in ("gpfm", "plain")]
    return out + [f"results/bench/segmentation/demo_nuclei/{model}.json"]


def test_demo_dry_run_ranks_every_demo_model(workdir):
    r = snakemake("--d3dag", "gpfm_rank_cd", *slide_targets(RANDOM), cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    counts = dag_jobs(r.stdout)
    n = len(DEMO_MODELS)
    expected = {"build_slide_tasks": 1, "embed_slide_tasks": n, "slide_classification": 4 * n,
                "survival_bench": 2 * n, "retrieval_bench": n + 1, "segmentation_bench": n,
                "rank_models": 1, "linear_probe": 4 * n}
    for rule, k in expected.items():
        assert counts.get(rule) == k, (rule, counts)
    # The rank table reads the patch benchmarks too; retrieval-plain is not ranked, so only the
    # explicitly named model's plain retrieval runs.
    assert "embed_slide_tiles" not in counts and "fetch_slide_bench_dataset" not in counts


def test_paper_dry_run_embeds_tcga_slides_and_fetches_seg_sets(workdir):
    paper = ("--configfile", "config/paper.yaml", "--")
    r = snakemake("--d3dag", *paper, "gpfm_rank_cd", cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    counts = dag_jobs(r.stdout)
    assert "build_slide_tasks" not in counts  # the synthetic slide tasks are the demo's
    # TCGA survival waits on the manifest checkpoint (its slide list) and the label table.
    assert counts["gdc_manifest"] >= 1 and counts["gdc_labels"] >= 1
    r = snakemake("--summary", *paper, "gpfm_rank_cd", cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    files = planned_files(r.stdout)
    # The segmentation sets and Camelyon16 / PANDA are fetched into results/datasets/<name>
    # (the rule's --root is its output); the two slide tables are checkpoints.
    for name in ("consep", "monusac", "camelyon16", "panda"):
        assert files.get(f"results/datasets/{name}") == "fetch_slide_bench_dataset", name
    for name in ("camelyon16", "panda"):
        assert files.get(f"results/slide_datasets/{name}/slides.tsv") == "slide_dataset_table", name
    assert any(f.startswith("results/bench/segmentation/monusac/") and rule == "segmentation_bench"
               for f, rule in files.items())
    # One MoNuSAC segmentation job reads the fetched set.
    r = snakemake("-n", "-p", *paper, "results/bench/segmentation/monusac/uni.json", cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    commands = shell_commands(r.stdout)
    (seg,) = commands["segmentation_bench"]
    assert has_args(seg, "--source", "monusac", "--root", "results/datasets/monusac"), seg
    (fetch,) = commands["fetch_slide_bench_dataset"]
    assert has_args(fetch, "--dataset", "monusac", "--root", "results/datasets/monusac"), fetch
    r = snakemake("--d3dag", *paper, "all", cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    assert dag_jobs(r.stdout)["all"] == 1


def test_tiny_slide_families_run_for_one_model(workdir):
    cfg_path = workdir / "config" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["embed"]["models"] = [RANDOM]
    sb = cfg["slide_bench"]
    sb["cohorts"]["demo_slides"] = {"n_slides": 15, "seed": 0, "mpp": 1.0, "size_um": 320.0, "tile_px": 32}
    sb["classification"].update(seeds=[0], max_epochs=5, patience=3,
                                tasks={"demo_metastasis": {"cohort": "demo_slides", "label": "metastasis"}})
    sb["survival"]["max_epochs"] = 5
    sb["retrieval"]["n_bootstrap"] = 20
    sb["segmentation"].update(max_steps=10, eval_every=5,
                              tasks={"demo_nuclei": {"cohort": "demo_slides", "train": 2, "val": 1, "test": 1}})
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    targets = slide_targets(RANDOM, grade=False)
    r = snakemake("-c2", *targets, cwd=workdir)
    assert r.returncode == 0, r.stderr[-4000:]
    metric = {"slide_classification": "auc", "survival": "c_index", "retrieval": "top1_acc",
              "segmentation": "dice_mean"}
    for t in targets:
        res = json.loads((workdir / t).read_text())
        family = res["benchmark"].split("-")[0]
        assert res["model"] == RANDOM and t.split("/")[2] == res["benchmark"]
        assert 0.0 <= res["metrics"][metric[family]]["mean"] <= 1.0
        assert res["provenance"]["code_version"]
        assert family == "segmentation" or res["provenance"]["embedding_model"] == RANDOM
    cls = json.loads((workdir / targets[1]).read_text())
    assert cls["protocol"]["settings"]["n_folds"] == 5 and len(cls["seeds"]) == 5
    assert cls["protocol"]["settings"]["overrides_name"] == "demo"


# A fake-format Camelyon16 (eva's validation list puts normal_010 and tumor_001 in 'val'):
# 14 small tiled TIFFs, 7 per class (GPFM's 5 folds, each with a 5-fold validation split),
# tumour tissue a darker pink.
C16_SLIDES = {"training/normal": ["normal_001", "normal_002", "normal_003", "normal_004", "normal_010"],
              "training/tumor": ["tumor_001", "tumor_002", "tumor_003", "tumor_004", "tumor_006"],
              "testing/images": ["test_001", "test_002", "test_003", "test_004"]}
C16_REFERENCE = "test_001,Normal,,\ntest_002,Tumor,Macro,\ntest_003,Normal,,\ntest_004,Tumor,Micro,\n"


def _fake_camelyon16(root: Path) -> None:
    from pathfm.wsi.tiff_writer import write_pyramidal_tiff

    for folder, ids in C16_SLIDES.items():
        (root / folder).mkdir(parents=True)
        for sid in ids:
            rgb = np.full((512, 512, 3), 245, np.uint8)
            tumor = "tumor" in sid or sid in ("test_002", "test_004")
            rgb[64:448, 64:448] = (150, 60, 130) if tumor else (210, 130, 180)
            write_pyramidal_tiff(root / folder / f"{sid}.tif", rgb, mpp=1.0, layout="generic",
                                 downsamples=(1, 4))
    (root / "testing/reference.csv").write_text(C16_REFERENCE)


def _dataset_config(workdir: Path, models: list[str], per_job: int) -> None:
    """The demo config with one Camelyon16 classification task (small tiles, few epochs)."""
    cfg_path = workdir / "config" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["embed"]["models"] = models
    sb = cfg["slide_bench"]
    sb["datasets"] = {"camelyon16": {"mpp": 1.0, "tile_px": 32, "min_tissue": 0.35, "max_tiles": 20,
                                     "seed": 42, "slides_per_job": per_job}}
    sb["classification"].update(seeds=[0], max_epochs=3, patience=2, batch_size=2,
                                tasks={"c16": {"slide_dataset": "camelyon16", "label": "metastasis"}})
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_dataset_slide_task_runs_through_shards(workdir):
    """14 Camelyon16 slides in runs of 4: four tiling jobs, four embedding stores whose
    'group' names each tile's slide, the pixels removed after embedding, and the results."""
    _fake_camelyon16(workdir / "results/datasets/camelyon16")
    _dataset_config(workdir, [RANDOM], per_job=4)
    targets = [f"results/bench/slide_classification-{p}/c16/{RANDOM}.json" for p in ("eva", "gpfm")]
    r = snakemake("-c2", *targets, cwd=workdir)
    assert r.returncode == 0, r.stderr[-4000:]
    # The jobs after the checkpoint are not in the first job table: count their logs.
    logs = workdir / "logs"
    assert sorted(p.name for p in (logs / "tile_dataset_shard/camelyon16").iterdir()) == [
        f"shard{k:05d}.log" for k in range(4)]
    assert len(list((logs / f"embed_dataset_shard/{RANDOM}/camelyon16").iterdir())) == 4
    base = workdir / "results/slide_datasets/camelyon16"
    table = [line.split("\t")[0] for line in (base / "slides.tsv").read_text().splitlines()[1:]]
    assert len(table) == 14
    import zarr

    groups = []
    for k in range(4):
        assert not (base / f"tiles/shard{k:05d}").exists()  # temp: gone once embedded
        masks = base / f"masks/shard{k:05d}"
        shard_ids = table[4 * k:4 * k + 4]
        names = sorted(p.name for p in masks.iterdir() if not p.name.startswith("."))  # .snakemake_timestamp
        assert names == sorted(shard_ids + ["shard.json"])
        z = zarr.open_group(str(workdir / f"results/embeddings/{RANDOM}/slide_datasets/camelyon16"
                                f"/shard{k:05d}.zarr"), mode="r")
        group = [str(g) for g in z["group"][:]]
        assert list(dict.fromkeys(group)) == shard_ids and len(group) == 20 * len(shard_ids)
        groups += group
    assert sorted(set(groups)) == sorted(table)
    for t in targets:
        res = json.loads((workdir / t).read_text())
        assert 0.0 <= res["metrics"]["auc"]["mean"] <= 1.0
        assert len(res["provenance"]["embeddings"]) == 4


def test_dataset_dry_run_counts_one_job_per_shard(workdir):
    """With the slide table there, 14 slides in runs of 3 are 5 tiling jobs and 5 embedding
    jobs per model (not 14 and 14 per model)."""
    root = workdir / "results/datasets/camelyon16"
    for folder, ids in C16_SLIDES.items():
        (root / folder).mkdir(parents=True)
        for sid in ids:
            (root / folder / f"{sid}.tif").write_bytes(b"")
    (root / "testing/reference.csv").write_text(C16_REFERENCE)
    from pathfm.sources.slide_datasets import slide_table

    out = workdir / "results/slide_datasets/camelyon16/slides.tsv"
    out.parent.mkdir(parents=True)
    slide_table("camelyon16", root).to_csv(out, sep="\t", index=False)
    models = [RANDOM, "demo-h0-mini"]
    _dataset_config(workdir, models, per_job=3)
    targets = [f"results/bench/slide_classification-eva/c16/{m}.json" for m in models]
    r = snakemake("--d3dag", *targets, cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    counts = dag_jobs(r.stdout)
    assert counts.get("tile_dataset_shard") == 5 and counts.get("embed_dataset_shard") == 10, counts
    # The slide table is there: its checkpoint is in the DAG but would not run.
    assert counts.get("slide_dataset_table") == 1
    r = snakemake("--summary", *targets, cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "slide_dataset_table" not in pending_rules(r.stdout)
    assert planned_files(r.stdout)[str(out.relative_to(workdir))] == "slide_dataset_table"
    # Table order: normal_001-003 | normal_004, normal_010, tumor_001 | tumor_002-004 |
    # tumor_006, test_001-002 | test_003-004.
    # One model's result: its five tiling and five embedding commands.
    tiles = "results/slide_datasets/camelyon16/tiles"
    r = snakemake("-n", "-p", targets[0], cwd=workdir)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    commands = shell_commands(r.stdout)
    (tile4,) = [c for c in commands["tile_dataset_shard"] if has_args(c, "--shard", "00004")]
    assert has_args(tile4, "--slides-per-job", "3", "--shard", "00004"), tile4
    (embed3,) = [c for c in commands["embed_dataset_shard"]
                 if has_args(c, "--dataset-name", "slide_datasets/camelyon16/shard00003")]
    assert has_args(embed3, "--tiles", *(f"{tiles}/shard00003/{s}.zarr"
                                         for s in ("tumor_006", "test_001", "test_002")),
                    "--dataset-name", "slide_datasets/camelyon16/shard00003"), embed3
