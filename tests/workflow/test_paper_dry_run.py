"""The paper configuration dry-runs: GDC checkpoints first, then every (sharded) per-slide job."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pandas as pd
import pytest

from tests.dry_run import dag_jobs, has_args, pending_rules, planned_files, shell_commands, summary

from .conftest import snakemake

pytestmark = pytest.mark.workflow

PAPER_COHORTS = ("tcga_h0mini", "tcga_kaiko_ffpe", "tcga_kaiko_ff")


def placeholder_manifest(cohort: str, n: int, seed: int) -> pd.DataFrame:
    """Rows in the GDC manifest format (what scripts/gdc_manifest.py writes), fake ids."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        patient = f"TCGA-{rng.integers(10, 99)}-{i:04d}"
        slide_id = f"{patient}-01Z-00-DX1.{uuid.UUID(int=int(rng.integers(2**62))).hex.upper()}"
        rows.append({
            "slide_id": slide_id, "path": f"results/slides/{cohort}/{slide_id}.svs",
            "md5": f"{int(rng.integers(2**62)):032x}", "size": int(rng.integers(10**8, 10**9)),
            "file_id": str(uuid.UUID(int=int(rng.integers(2**62)))), "file_name": f"{slide_id}.svs",
            "patient": patient, "sample": f"{patient}-01A", "project": "TCGA-BRCA",
            "slide_type": "FFPE", "mpp": "",
        })
    return pd.DataFrame(rows)


PAPER = ("--cores", "1", "--configfile", "config/paper.yaml", "--")


def test_paper_dry_run_starts_with_the_gdc_queries(workdir):
    result = snakemake("--d3dag", *PAPER, "all", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    assert counts["gdc_manifest"] == len(PAPER_COHORTS)
    assert counts["gdc_labels"] == 2
    # The demo config is replaced, not merged: no demo file (cohort, model, task) is planned.
    result = snakemake("--summary", *PAPER, "all", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    files = planned_files(result.stdout)
    assert {f"results/manifests/{c}.tsv" for c in PAPER_COHORTS} <= set(files)
    assert [f for f in files if "demo" in f] == []
    assert {rule for rule in files.values() if "demo" in rule} == set()


def test_paper_dry_run_resolves_every_download_job(workdir, monkeypatch):
    sizes = {"tcga_h0mini": 120, "tcga_kaiko_ffpe": 90, "tcga_kaiko_ff": 60}
    (workdir / "results" / "manifests").mkdir(parents=True)
    for i, (cohort, n) in enumerate(sizes.items()):
        placeholder_manifest(cohort, n, seed=i).to_csv(
            workdir / "results" / "manifests" / f"{cohort}.tsv", sep="\t", index=False)
    result = snakemake("--d3dag", *PAPER, "all", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    # Paper cohorts run their per-slide steps in shards of slides_per_job (50) slides.
    shards = {c: math.ceil(n / 50) for c, n in sizes.items()}
    assert counts["download_slide_shard"] == sum(shards.values())
    assert counts["mask_shard"] == sum(shards.values())
    assert counts["tiles_shard"] == shards["tcga_h0mini"]  # only the H0-mini cohort is tiled
    for per_slide in ("download_slide", "mask", "tiles"):
        assert per_slide not in counts
    # The DAG holds the manifest checkpoints (their outputs are there), but they would not run.
    assert counts["gdc_manifest"] == len(sizes)
    result = snakemake("--summary", *PAPER, "all", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    rows = [r for r in summary(result.stdout) if r.rule == "gdc_manifest"]
    assert sorted(r.output_file for r in rows) == sorted(f"results/manifests/{c}.tsv" for c in sizes)
    assert {(r.status, r.plan) for r in rows} == {("ok", "no update")}
    assert "gdc_manifest" not in pending_rules(result.stdout)
    assert {"download_slide_shard", "mask_shard", "tiles_shard"} <= pending_rules(result.stdout)
    # The GDC token never appears in a download command, even when it is set.
    token = "sentinel-gdc-token-5f3c"
    monkeypatch.setenv("GDC_TOKEN", token)
    result = snakemake("-n", "-p", *PAPER, "results/slides/tcga_h0mini/shards/00000.shard.json",
                       cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    commands = shell_commands(result.stdout)
    assert list(commands) == ["download_slide_shard"] and len(commands["download_slide_shard"]) == 1
    (download,) = commands["download_slide_shard"]
    assert has_args(download, "--cohort", "tcga_h0mini") and has_args(download, "--shard", "00000")
    assert "GDC_TOKEN" not in download and token not in download
