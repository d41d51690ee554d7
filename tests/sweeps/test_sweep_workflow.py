"""Dry-runs of the ablation sweeps under the demo and the paper configuration."""

from __future__ import annotations

import re

import pytest
import yaml

from pathfm.config_defaults import fill_defaults
from pathfm.sweeps import sweep_runs
from tests.dry_run import job_counts
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
    result = snakemake("-n", "--cores", "1", "ablation_only", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    points = _distinct_points(cfg) - set(cfg["train"]["runs"])
    # One training job per distinct point (the shared baseline once), one WSI subset.
    assert counts["train_ssl"] >= len(points) == 6
    assert counts["train_wsi_subset"] == 1
    for model in points:
        assert result.stdout.count(f"--export-dir results/models/{model} ") == 1
        # Derived runs embed as their base architecture with their own weights.
        assert f"--model {model} --weights results/models/{model}/weights.safetensors" in (
            result.stdout)
        for protocol in cfg["ablation"]["protocols"]:
            for task in cfg["ablation"]["tasks"]:
                assert f"results/bench/linear_probe-{protocol}/{task}/{model}.json" in result.stdout
    # Only the ablation tasks are embedded for the sweep models.
    others = set(cfg["patch_bench"]["linear_probe"]["tasks"]) - set(cfg["ablation"]["tasks"])
    assert others, "the demo probes some tasks outside the ablation"
    assert not re.search(rf"results/embeddings/demo-vit-s8@[^ ]*/({'|'.join(sorted(others))})",
                         result.stdout)


def test_paper_sweeps_dry_run(workdir):
    cfg = _config(workdir / "config" / "paper.yaml")
    result = snakemake("-n", "--cores", "1", "--configfile", "config/paper.yaml", "--",
                       "ablation_only", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    points = _distinct_points(cfg)
    # kaiko: 7 magnifications + 3 WSI subsets + 4 distinct-patch limits + 2 inits +
    # 4 DINOv2 runs, the 100-epoch baseline shared by four sweeps.
    assert len(points) == 20
    assert counts["train_ssl"] == len(points - set(cfg["train"]["runs"]))
    assert counts["train_wsi_subset"] == 3
    # ImageNet init comes from the registry's hub weights.
    assert "results/models/dino-vits16-imagenet/weights.safetensors" in result.stdout
