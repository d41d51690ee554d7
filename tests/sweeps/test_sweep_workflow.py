"""Dry-runs of the ablation sweeps under the demo and the paper configuration."""

from __future__ import annotations

import re

import pytest
import yaml

from pathfm.config_defaults import fill_defaults
from pathfm.sweeps import sweep_runs
from tests.dry_run import dag_jobs, has_args, planned_files, shell_commands
from tests.workflow.conftest import REPO, snakemake

pytestmark = pytest.mark.workflow


def _config(path) -> dict:
    """The config as the workflow sees it: schema defaults filled in."""
    config = yaml.safe_load(path.read_text())
    schemas = REPO / "workflow" / "schemas"
    fill_defaults(config, yaml.safe_load((schemas / "config.schema.yaml").read_text()), schemas)
    return config


def _distinct_points(config: dict) -> set[str]:
    runs = config["train"]["runs"]
    return {m for points in sweep_runs(config["sweeps"], runs).values() for m in points.values()}


def test_demo_sweeps_dry_run(workdir):
    cfg = _config(workdir / "config" / "config.yaml")
    result = snakemake("--d3dag", "--cores", "1", "ablation_only", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    points = _distinct_points(cfg) - set(cfg["train"]["runs"])
    # One training job per distinct point (the shared baseline once), one WSI subset.
    assert counts["train_ssl"] >= len(points) == 6
    assert counts["train_wsi_subset"] == 1
    result = snakemake("--summary", "--cores", "1", "ablation_only", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    files = planned_files(result.stdout)
    for model in points:
        assert files.get(f"results/models/{model}/weights.safetensors") == "train_ssl", model
        for protocol in cfg["ablation"]["protocols"]:
            for task in cfg["ablation"]["tasks"]:
                assert files.get(f"results/bench/linear_probe-{protocol}/{task}/{model}.json") == (
                    "linear_probe"), (model, protocol, task)
    # Only the ablation tasks are embedded for the sweep models.
    others = set(cfg["patch_bench"]["linear_probe"]["tasks"]) - set(cfg["ablation"]["tasks"])
    assert others, "the demo probes some tasks outside the ablation"
    assert any(f.startswith("results/embeddings/demo-vit-s8@") for f in files)
    other = re.compile(rf"results/embeddings/demo-vit-s8@.*/({'|'.join(sorted(others))})(\.|/|$)")
    assert [f for f in files if other.match(f)] == []
    # Each sweep model is trained once, exported to its own folder, and embeds as its base
    # architecture with its own weights (one embedding per model asked for).
    task = sorted(cfg["ablation"]["tasks"])[0]
    result = snakemake("-n", "-p", "--cores", "1",
                       *(f"results/embeddings/{m}/{task}.zarr" for m in sorted(points)), cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    commands = shell_commands(result.stdout)
    for model in points:
        weights = f"results/models/{model}/weights.safetensors"
        assert len([c for c in commands["train_ssl"]
                    if has_args(c, "--export-dir", f"results/models/{model}")]) == 1, model
        assert len([c for c in commands["embed"]
                    if has_args(c, "--model", model, "--weights", weights)]) == 1, model


def test_paper_sweeps_dry_run(workdir):
    cfg = _config(workdir / "config" / "paper.yaml")
    paper = ("--cores", "1", "--configfile", "config/paper.yaml", "--", "ablation_only")
    result = snakemake("--d3dag", *paper, cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    points = _distinct_points(cfg)
    # kaiko: 7 magnifications + 3 WSI subsets + 4 distinct-patch limits + 2 inits +
    # 4 DINOv2 runs, the 100-epoch baseline shared by four sweeps.
    assert len(points) == 20
    assert counts["train_ssl"] == len(points - set(cfg["train"]["runs"]))
    assert counts["train_wsi_subset"] == 3
    # ImageNet init comes from the registry's hub weights.
    result = snakemake("--summary", *paper, cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    assert planned_files(result.stdout).get(
        "results/models/dino-vits16-imagenet/weights.safetensors") == "fetch_weights"
