"""A pre-empted training job is resubmitted by the slurm profile and resumes from its checkpoint.

Real Slurm (a local one-node cluster), the real profiles, Snakemake's Slurm executor:
the job is sent SIGTERM mid-run as Slurm does on pre-emption, the trainer saves a
checkpoint and exits 75, Snakemake's retries resubmit the job, and the second
attempt starts at the saved step rather than at step 0.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from .conftest import BIN, REPO, record_summary

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.workflow]

HERE = Path(__file__).parent
STEPS = 60


def _queued_jobs(env) -> list[str]:
    """Ids of this workflow's train_tiny jobs (the plugin puts the rule in the comment)."""
    out = subprocess.run(["squeue", "-h", "-o", "%i|%k"], env=env, capture_output=True,
                         text=True, timeout=30).stdout
    return [line.split("|")[0] for line in out.split()
            if line.split("|")[-1].startswith("rule_train_tiny")]


def test_sigterm_requeue_resumes_from_checkpoint(slurm_queue, tmp_path):
    slurm_env = slurm_queue
    train = tmp_path / "train"
    # timeout -k: should the plugin ever wait on a status it cannot get, the test fails
    # instead of hanging (Snakemake ignores SIGTERM while it waits on jobs).
    cmd = ["timeout", "-k", "10", "300", str(BIN / "snakemake"),
           "--snakefile", str(HERE / "preempt.smk"),
           "--profile", str(REPO / "profiles" / "slurm"),
           "--workflow-profile", str(REPO / "profiles" / "default"),
           "--config", f"steps={STEPS}",
           "--slurm-init-seconds-before-status-checks", "1",
           "--seconds-between-status-checks", "2", "--latency-wait", "5"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=slurm_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 180
        log = train / "log.jsonl"
        while time.time() < deadline and proc.poll() is None:
            if log.exists() and len(log.read_text().splitlines()) >= 5:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read()
        jobs = _queued_jobs(slurm_env)
        assert len(jobs) == 1, jobs
        # What Slurm sends a job's steps on pre-emption (then SIGKILL after KillWait).
        subprocess.run(["scancel", "--signal=TERM", jobs[0]], env=slurm_env, check=True,
                       timeout=30)
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    starts = [int(s) for s in (train / "starts.txt").read_text().split()]
    assert len(starts) == 2, (starts, out)
    assert starts[0] == 0 and 5 <= starts[1] < STEPS, starts  # resumed, not restarted
    assert (train / "export" / "weights.safetensors").exists()
    logged = [line for line in (train / "log.jsonl").read_text().splitlines()]
    assert len(logged) >= STEPS  # every step trained once, plus the steps after resume
    assert "exit" in out.lower() or "attempt" in out.lower()
    record_summary(f"cluster-ci: pre-emption: Slurm job {jobs[0]} sent SIGTERM mid-run, "
                   f"resubmitted, resumed at step {starts[1]} (not 0) of {STEPS}")
