"""The paper DAG's TCGA TP53 set: one patch-set job over the FFPE cohort's slides and
masks, then an embedding and a TP53 probe per model (kaiko.ai Tables I, III, IV)."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
import yaml

from tests.dry_run import arg_value, has_args, planned_files, shell_commands

from .conftest import snakemake
from .test_paper_dry_run import PAPER, placeholder_manifest

pytestmark = pytest.mark.workflow

SIZES = {"tcga_h0mini": 120, "tcga_kaiko_ffpe": 90, "tcga_kaiko_ff": 60}
COHORT = "tcga_kaiko_ffpe"


def test_paper_dag_builds_embeds_and_probes_the_tcga_tp53_set(workdir):
    (workdir / "results" / "manifests").mkdir(parents=True)
    for i, (cohort, n) in enumerate(SIZES.items()):
        placeholder_manifest(cohort, n, seed=i).to_csv(
            workdir / "results" / "manifests" / f"{cohort}.tsv", sep="\t", index=False)
    result = snakemake("--summary", *PAPER, "all", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    files = planned_files(result.stdout)
    assert files["results/datasets/tp53"] == "tp53_patch_set"
    assert Counter(files.values())["tp53_patch_set"] == 1
    probes = {f.split("/")[-1].removesuffix(".json"): rule for f, rule in files.items()
              if f.startswith("results/bench/tp53/tp53/")}
    embeddings = {f.split("/")[2]: rule for f, rule in files.items()
                  if f.startswith("results/embeddings/") and f.endswith("/tp53.zarr")}
    assert set(probes.values()) == {"tp53_bench"} and set(embeddings.values()) == {"embed"}
    # Every embedded model (released weights and the *-repro runs) gets its TP53 cell.
    paper = yaml.safe_load((workdir / "config" / "paper.yaml").read_text())
    models = paper["embed"]["models"]
    assert set(probes) == set(embeddings) and set(models) <= set(probes)
    # The rest are the ablation models (sweep runs, named "base@settings", and
    # ablation.models), probed on TP53 for kaiko Tables III and IV.
    assert all("@" in m or m in paper["ablation"]["models"] for m in set(probes) - set(models))
    assert {"kaiko-vits16", "kaiko-vits16-repro", "h0-mini"} <= set(probes)

    result = snakemake("-n", "-p", *PAPER, "results/datasets/tp53", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    commands = shell_commands(result.stdout)
    shards = math.ceil(SIZES[COHORT] / 50)
    # The job waits for every slide and mask of the cohort (in shards of 50) and the labels.
    assert {rule: len(jobs) for rule, jobs in commands.items()} == {
        "download_slide_shard": shards, "mask_shard": shards, "gdc_labels": 1,
        "tp53_patch_set": 1}
    assert all(has_args(c, "--cohort", COHORT) for c in commands["mask_shard"])
    (job,) = commands["tp53_patch_set"]
    assert arg_value(job, "--manifest") == f"results/manifests/{COHORT}.tsv"
    assert arg_value(job, "--labels") == "results/labels/tp53.tsv"
    assert arg_value(job, "--masks-dir") == f"results/masks/{COHORT}"
    assert arg_value(job, "--out") == "results/datasets/tp53"
    assert has_args(job, "--cohort", COHORT) and has_args(job, "--seed", "0")
    settings = json.loads(arg_value(job, "--params"))
    assert {k: settings[k] for k in ("n_patches", "tile_px", "mpp", "sampling")} == {
        "n_patches": 102400, "tile_px": 224, "mpp": 0.5, "sampling": "tile_uniform"}
