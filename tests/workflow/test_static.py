"""Snakemake's own standards: lint, pinned formatter, schema validation, dry-runs."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from .conftest import BIN, REPO, snakemake

pytestmark = pytest.mark.workflow


def test_lint_is_clean():
    result = snakemake("--lint")
    assert result.returncode == 0, result.stderr
    assert "Lints for" not in result.stdout + result.stderr
    assert "good condition" in result.stdout + result.stderr


def test_snakefmt_clean():
    result = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_dry_run_lists_every_stage(workdir):
    result = snakemake("-n", "--cores", "2", "all", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    for rule in ("synth_slide", "synth_manifest", "mask", "tiles", "qc_summary"):
        assert rule in result.stdout


def test_config_typo_names_the_key(workdir):
    cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    cfg["mask"]["saturation_treshold"] = 20
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    result = snakemake("-n", "--cores", "1", cwd=workdir)
    assert result.returncode != 0
    assert "saturation_treshold" in result.stdout + result.stderr


def test_config_unknown_tiling_is_named(workdir):
    cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    cfg["cohorts"]["demo"]["tilings"] = ["mpp0.25_px256"]
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    result = snakemake("-n", "--cores", "1", cwd=workdir)
    assert result.returncode != 0
    assert "mpp0.25_px256" in result.stdout + result.stderr


def test_stage_sections_are_optional(workdir):
    cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    for stage in ("train", "distill", "embed", "patch_bench", "plism", "slide_bench", "sweeps",
                  "ablation", "tables"):
        cfg.pop(stage, None)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    result = snakemake("-n", "--cores", "1", cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mask" in result.stdout
