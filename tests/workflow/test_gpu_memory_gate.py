"""A paper config whose GPU job does not fit stops `snakemake -n` before any job, naming
the job, the memory and the setting that fits (the memory plan runs at DAG build)."""

from __future__ import annotations

import pytest
import yaml

from .conftest import snakemake

pytestmark = pytest.mark.workflow


def test_a_job_that_does_not_fit_stops_the_dry_run(workdir):
    (workdir / "no_accumulation.yaml").write_text(yaml.safe_dump(
        {"distill": {"runs": {"h0-mini-repro": {"config": {"micro_batch_size": None}}}}}))
    result = snakemake("-n", "--cores", "1", "--configfile", "config/paper.yaml",
                       "no_accumulation.yaml", "--", "all", cwd=workdir)
    assert result.returncode != 0
    out = result.stderr + result.stdout
    assert "distill h0-mini-repro:" in out and "> 80 GB available" in out
    assert "distill.runs.h0-mini-repro.config.micro_batch_size:" in out
    assert "Job stats" not in out  # nothing was planned, let alone submitted
