"""The paper configuration dry-runs: GDC checkpoints first, then every (sharded) per-slide job."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pandas as pd
import pytest

from tests.dry_run import job_counts

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


def test_paper_dry_run_starts_with_the_gdc_queries(workdir):
    result = snakemake("-n", "--cores", "1", "--configfile", "config/paper.yaml", "--", "all",
                       cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    assert counts["gdc_manifest"] == len(PAPER_COHORTS)
    assert counts["gdc_labels"] == 2
    assert "demo" not in result.stdout  # the demo config is replaced, not merged


def test_paper_dry_run_resolves_every_download_job(workdir):
    sizes = {"tcga_h0mini": 120, "tcga_kaiko_ffpe": 90, "tcga_kaiko_ff": 60}
    (workdir / "results" / "manifests").mkdir(parents=True)
    for i, (cohort, n) in enumerate(sizes.items()):
        placeholder_manifest(cohort, n, seed=i).to_csv(
            workdir / "results" / "manifests" / f"{cohort}.tsv", sep="\t", index=False)
    result = snakemake("-n", "--cores", "1", "--configfile", "config/paper.yaml", "--", "all",
                       cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    # Paper cohorts run their per-slide steps in shards of slides_per_job (50) slides.
    shards = {c: math.ceil(n / 50) for c, n in sizes.items()}
    assert counts["download_slide_shard"] == sum(shards.values())
    assert counts["mask_shard"] == sum(shards.values())
    assert counts["tiles_shard"] == shards["tcga_h0mini"]  # only the H0-mini cohort is tiled
    for per_slide in ("download_slide", "mask", "tiles", "gdc_manifest"):
        assert per_slide not in counts
    # the GDC token never appears in what Snakemake would run
    assert "GDC_TOKEN" not in result.stdout.replace("envvars", "")
