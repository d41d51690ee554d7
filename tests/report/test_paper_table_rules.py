"""Every paper table / figure target dry-runs under the demo and the paper config."""

from __future__ import annotations


import pytest

from tests.dry_run import dag_jobs

from .conftest import snakemake

pytestmark = pytest.mark.workflow

TARGETS = (
    "h0mini_table1_hest", "h0mini_table2_eva", "h0mini_distilled_vs_scratch", "kaiko_table1_linear_probe",
    "kaiko_table8_linear_probe_std", "kaiko_table2_magnification", "kaiko_table3_wsi_fraction",
    "kaiko_table4_distinct_patches", "kaiko_fig1_init", "kaiko_fig4_dino_vs_dinov2",
    "kaiko_fig6_unsupervised", "gpfm_fig8_expert_distillation",
)
FIGURES = [t for t in TARGETS if "_fig" in t]


@pytest.mark.parametrize("configfile", [None, "config/paper.yaml"], ids=["demo", "paper"])
def test_every_table_target_dry_runs(workdir, configfile):
    args = ["--configfile", configfile, "--"] if configfile else []
    result = snakemake("--d3dag", "--cores", "1", *args, *TARGETS, cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    for target in TARGETS:
        assert counts[target] == 1
    assert counts["paper_figure"] == len(FIGURES)
    assert counts["paper_table"] == len(TARGETS) - len(FIGURES)


def test_all_ends_with_report_inputs_and_runtime_summary(workdir):
    result = snakemake("--d3dag", "--cores", "1", "all", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    counts = dag_jobs(result.stdout)
    assert counts["runtime_summary"] == 1 and counts["provenance"] == 1
    assert counts["paper_table"] + counts["paper_figure"] == len(TARGETS)
