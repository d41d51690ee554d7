"""A slice of the demo through the real local Slurm gives the same results as run locally.

The slice (tests/cluster/demo_slice.yaml over config/config.yaml) trains
demo-vit-s8 for a few steps on two synthetic slides and embeds the PCam-like task
set with it. Its inputs (slides, masks, task set) are made once, locally, and
copied into two directories; there the training and embedding jobs run once with
the real Slurm profile (each job through sbatch, status through squeue) and once
locally, and the two result trees must be the same (tests/cluster/same_outputs.py
says what that means). Only the two GPU-kind jobs go through Slurm because every
Slurm job starts its own Snakemake, about half a minute each on a busy 2-core machine.
The summary line ("cluster-ci: ...") is printed by .ci/run at the end of the log.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ..workflow.conftest import local_env
from .conftest import BIN, REPO, record_summary
from .same_outputs import compare_trees, result_files

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.workflow]

HERE = Path(__file__).parent
TARGET = "results/embeddings/demo-vit-s8/pcam.zarr"
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")
RULE_OF_JOB = re.compile(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    jobid: (\d+)$", re.M)


def _snakemake(work: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    # timeout -k: Snakemake ignores SIGTERM while it waits on cluster jobs.
    cmd = ["timeout", "-k", "10", "600", str(BIN / "snakemake"),
           "--snakefile", str(REPO / "Snakefile"),
           "--workflow-profile", str(REPO / "profiles" / "default"),
           "--configfile", "config/config.yaml", str(HERE / "demo_slice.yaml"),
           *extra, "--", TARGET]
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=660)


def _slurm_jobs(log: str) -> dict[str, str]:
    """{Slurm job id: rule} of every job Snakemake submitted, from its log."""
    rules = {job: rule for rule, job in RULE_OF_JOB.findall(log)}
    return {slurm_id: rules.get(job, "?") for job, slurm_id in SUBMITTED.findall(log)}


def _job_state(slurm_id: str, env: dict) -> str:
    # MinJobAge=600 in the local cluster: finished jobs are still known to the controller.
    out = subprocess.run(["scontrol", "show", "job", slurm_id], env=env, capture_output=True,
                         text=True, timeout=30).stdout
    found = re.search(r"JobState=(\w+)", out)
    return found[1] if found else "UNKNOWN"


def test_demo_slice_through_slurm_equals_local(slurm_queue, tmp_path):
    slurm_env = slurm_queue
    prep, on_slurm, local = tmp_path / "prep", tmp_path / "slurm", tmp_path / "local"
    shutil.copytree(REPO / "config", prep / "config")
    made = _snakemake(prep, local_env(), "--cores", "2", "--omit-from", "train_ssl")
    assert made.returncode == 0, (made.stdout + made.stderr)[-6000:]
    for work in (on_slurm, local):  # copy2 keeps the mtimes: nothing upstream reruns
        shutil.copytree(prep, work, ignore=shutil.ignore_patterns("logs", "runtime"))

    ran = _snakemake(on_slurm, slurm_env, "--profile", str(REPO / "profiles" / "slurm"),
                     "--slurm-init-seconds-before-status-checks", "1",
                     "--seconds-between-status-checks", "2", "--latency-wait", "5",
                     "--retries", "0")
    log = ran.stdout + ran.stderr
    assert ran.returncode == 0, log[-6000:]
    jobs = _slurm_jobs(log)
    assert sorted(jobs.values()) == ["embed", "train_ssl"], (jobs, log[-4000:])
    states = {slurm_id: _job_state(slurm_id, slurm_env) for slurm_id in jobs}
    assert set(states.values()) == {"COMPLETED"}, states

    ran_local = _snakemake(local, local_env(), "--cores", "2")
    assert ran_local.returncode == 0, (ran_local.stdout + ran_local.stderr)[-6000:]

    compared, diffs = compare_trees(on_slurm / "results", local / "results")
    new = sorted(set(compared) - result_files(prep / "results"))
    assert TARGET.removeprefix("results/") in new and "models/demo-vit-s8/weights.safetensors" in new
    assert not diffs, diffs
    by_rule = ", ".join(f"{rule}={sid}" for sid, rule in sorted(jobs.items(), key=lambda j: int(j[0])))
    record_summary(f"cluster-ci: demo slice through Slurm: {len(jobs)} sbatch jobs all "
                   f"COMPLETED ({by_rule}); same as the local run: their {len(new)} results "
                   f"identical ({', '.join(new)}; tensors and zarr arrays bit-equal)")
