"""The sbatch lines Snakemake's Slurm plugin builds, through the real profiles.

A fake ``sbatch`` first on PATH records its arguments and refuses the job (the
other fakes answer as a one-partition cluster), so this runs without Slurm and
shows exactly what a site's sbatch would receive. It needs no cluster: not marked.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import BIN, REPO

pytestmark = pytest.mark.workflow

HERE = Path(__file__).parent


def _submissions(record: Path) -> dict[str, list[str]]:
    calls = [c.splitlines() for c in record.read_text().split("\n\n") if c.strip()]
    return {c[c.index("--comment") + 1]: c for c in calls}


@pytest.fixture(scope="module")
def sbatch_calls(tmp_path_factory):
    """One Snakemake run per target: the first refused submission stops a run, so two
    rules in one run would record one or two calls depending on scheduling order."""
    calls = {}
    for target in ("gpu.done", "multinode.done"):
        work = tmp_path_factory.mktemp("sbatch")
        record = work / "sbatch.txt"
        env = {**os.environ, "FAKE_SBATCH_LOG": str(record),
               "PATH": f"{HERE / 'fake_slurm'}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"}
        res = subprocess.run(
            ["timeout", "-k", "10", "240", str(BIN / "snakemake"),
             "--snakefile", str(HERE / "sbatch_probe.smk"),
             "--profile", str(REPO / "profiles" / "slurm"),
             "--workflow-profile", str(REPO / "profiles" / "default"), "--retries", "0",
             "--slurm-init-seconds-before-status-checks", "1", target],
            cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 1 and "fake sbatch" in res.stdout + res.stderr, res.stderr
        calls.update(_submissions(record))
    return calls


def test_gpu_rule_asks_for_its_gpus(sbatch_calls):
    call = sbatch_calls["rule_one_node_two_gpus"]
    assert "--gpus=2" in call and "--nodes=1" in call
    assert call[call.index("-t") + 1] == "120" and call[call.index("--mem") + 1] == "64000"
    assert "--ntasks-per-gpu" not in " ".join(call)  # plugin >= 2.7.1: no implicit task geometry
    wrapped = call[-1]
    assert wrapped.startswith("--wrap=") and "--executor slurm-jobstep" in wrapped


def test_multi_node_rule_asks_per_node(sbatch_calls):
    call = sbatch_calls["rule_two_nodes_four_gpus_each"]
    assert "--nodes=2" in call and "--gres=gpu:4" in call and "--cpus-per-gpu=8" in call
    assert call[call.index("-t") + 1] == "4320"


def test_workflow_profile_defaults_reach_every_job(sbatch_calls):
    # profiles/default's default-resources win over any global profile's: nodes=1 etc.
    for call in sbatch_calls.values():
        assert "--export=ALL" in call and "-D" in call
        assert "base64//bm9kZXM9MQ==" in call[-1]  # "nodes=1" forwarded to the job
