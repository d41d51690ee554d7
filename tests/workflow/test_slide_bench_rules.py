"""Slide-benchmark rules: demo and paper dry-runs name the right jobs; the slide families run
end to end for one model on a tiny rendered cohort."""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import snakemake

pytestmark = [pytest.mark.workflow]

RANDOM = "demo-vit-s8-random"
DEMO_MODELS = ("demo-vit-s8", RANDOM, "demo-h-optimus", "demo-h0-mini", "demo-gpfm")


def _job_counts(out: str) -> dict[str, int]:
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def slide_targets(model: str, grade: bool = True) -> list[str]:
    tasks = ["demo_metastasis"] + (["demo_grade"] if grade else [])
    out = [f"results/bench/slide_classification-{p}/{t}/{model}.json" for p in ("eva", "gpfm") for t in tasks]
    out += [f"results/bench/survival-{h}/demo_survival/{model}.json" for h in ("abmil_cox", "meanpool_coxph")]
    out += [f"results/bench/retrieval-{p}/demo_roi/{model}.json" for p in ("gpfm", "plain")]
    return out + [f"results/bench/segmentation/demo_nuclei/{model}.json"]


def test_demo_dry_run_ranks_every_demo_model(workdir):
    r = snakemake("-n", "gpfm_rank_cd", *slide_targets(RANDOM), cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    counts = _job_counts(r.stdout + r.stderr)
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
    r = snakemake("-n", "-p", "--configfile", "config/paper.yaml", "--", "gpfm_rank_cd", cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    assert "fetch_dataset.py --dataset consep --root results/datasets/consep" in out
    assert "segmentation_bench.py --source monusac --root results/datasets/monusac" in out
    assert "build_slide_tasks" not in out
    # Camelyon16 / PANDA: the unpacked downloads are checked, then the slide table is a checkpoint.
    for name in ("camelyon16", "panda"):
        assert f"fetch_dataset.py --dataset {name} --root results/datasets/{name}" in out
        assert f"slide_dataset_table.py --dataset {name}" in out
    # TCGA survival waits on the manifest checkpoint (its slide list), then embeds per slide.
    assert "checkpoint gdc_manifest" in out and "gdc_labels" in out
    r = snakemake("-n", "--configfile", "config/paper.yaml", "--", "all", cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]


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
