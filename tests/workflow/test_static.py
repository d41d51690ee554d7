"""Snakemake's own standards: lint, pinned formatter, schema validation, dry-runs."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.dry_run import dag_jobs

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


# Per workflow/rules/*.smk, the rules that have jobs in the demo's `all` (download, shard,
# fetch and hub rules are the paper's; h0mini_*/gpfm_rank_cd/ablation_only are named targets).
DEMO_STAGE_RULES = {
    "synth": {"synth_slide", "synth_manifest"},
    "masks": {"mask"},
    "tiles": {"tiles"},
    "qc": {"qc_summary"},
    "train": {"train_ssl", "train_wsi_subset"},
    "distill": {"distill"},
    "embed": {"embed", "embed_plism", "embed_slide_tasks"},
    "bench_patch": {"build_demo_dataset", "linear_probe", "hest_bench", "tp53_bench",
                    "unsupervised_metrics"},
    "plism": {"synth_plism", "plism_register", "plism_tiles", "plism_bench", "plism_report"},
    "bench_slide": {"build_slide_tasks", "slide_classification", "survival_bench",
                    "retrieval_bench", "segmentation_bench", "rank_models"},
    "paper_tables": {"paper_table", "paper_figure", "table_html", "provenance", "runtime_summary"},
}


def test_demo_dry_run_lists_every_stage(workdir):
    result = snakemake("--d3dag", "--cores", "2", "all", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    rules = set(dag_jobs(result.stdout))
    for stage, stage_rules in DEMO_STAGE_RULES.items():
        assert stage_rules <= rules, (stage, sorted(stage_rules - rules))


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
    result = snakemake("--d3dag", "--cores", "1", cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    # Slides, masks, tiles, QC, provenance and the report; the table rules (plism_report and
    # rank_models among them) draw the paper's tables from whatever results exist, here none.
    # No training, embedding or benchmark job.
    assert set(dag_jobs(result.stdout)) == {
        "all", "synth_slide", "synth_manifest", "mask", "tiles", "qc_summary", "provenance",
        "runtime_summary", "paper_table", "paper_figure", "table_html", "plism_report",
        "rank_models"}
