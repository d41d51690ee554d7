"""The local one-node Slurm cluster (tools/slurm_local.sh), started for the cluster tests.

The session fixture ``slurm_env`` starts it when Slurm is installed (and skips the
test, saying why, when not; fails instead when $PATHFM_CI_EXPECT names ``slurm``, as
.ci/run sets it) and stops it at the end. With the Slurm plugin
installed, every snakemake start probes ``scontrol show config``: instant with no
config or a live controller, ~10 s with a config whose controller is down. The
script removes its /etc/slurm/slurm.conf on stop, so after the cluster tests the
rest of the suite pays nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci_expect import skip_or_fail

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SLURM_LOCAL = REPO / "tools" / "slurm_local.sh"
DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel")


def slurm_missing() -> str | None:
    """Why a local cluster cannot be started here, or None."""
    path = f"/usr/sbin{os.pathsep}{os.environ.get('PATH', '')}"
    missing = [d for d in DAEMONS if shutil.which(d, path=path) is None]
    if missing:
        return (f"Slurm is not installed (missing {', '.join(missing)}): "
                "run `sudo tools/slurm_local.sh install`")
    return None


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def slurm_env():
    """Environment for subprocesses that talk to the running local Slurm (venv first on PATH).

    One cluster per machine (jobs find it at /etc/slurm/slurm.conf), shared by xdist
    workers through a reference count under a lock; the last worker stops it. A
    cluster that was already running before the tests is left running.
    """
    if reason := slurm_missing():
        skip_or_fail("slurm", reason)
    env = {**os.environ,
           "PATH": f"{BIN}{os.pathsep}/usr/sbin{os.pathsep}{os.environ.get('PATH', '')}"}
    state = Path(os.environ.get("PATHFM_SLURM_DIR", f"/tmp/pathfm-slurm-{os.getuid()}"))
    state.mkdir(parents=True, exist_ok=True)
    users = state / "pytest-users"
    with _locked(state / "pytest.lock"):
        count = int(users.read_text()) if users.exists() else 0
        running = subprocess.run([str(SLURM_LOCAL), "status"], env=env, capture_output=True,
                                 timeout=60).returncode == 0
        if count == 0 and running:
            count = 1  # started outside pytest: one extra holder that never lets go
        start = subprocess.run([str(SLURM_LOCAL), "start"], env=env, capture_output=True,
                               text=True, timeout=120)
        if start.returncode != 0:
            logs = "".join((state / f"{d}.log").read_text()[-2000:]
                           for d in ("slurmctld", "slurmd") if (state / f"{d}.log").exists())
            skip_or_fail("slurm", f"the local Slurm did not start: {start.stderr.strip()}\n{logs}")
        users.write_text(str(count + 1))
    env["SLURM_CONF"] = str(state / "slurm.conf")
    yield env
    with _locked(state / "pytest.lock"):
        count = int(users.read_text()) - 1
        users.write_text(str(count))
        if count <= 0:
            subprocess.run([str(SLURM_LOCAL), "stop"], env=env, capture_output=True, timeout=60)
            users.unlink()


@pytest.fixture
def slurm_queue(slurm_env):
    """``slurm_env``, with the local cluster's queue to this test alone: xdist workers
    take turns, so that one test's jobs never wait behind (or show up in) another's."""
    state = Path(slurm_env["SLURM_CONF"]).parent
    with _locked(state / "queue.lock"):
        yield slurm_env


def record_summary(line: str) -> None:
    """Print a one-line result of a cluster test and append it to $PATHFM_CI_SUMMARY.

    pytest hides a passing test's output (and xdist workers' terminals), so .ci/run
    names that file and prints it after the tests: the CI log shows what ran on Slurm.
    """
    print(line)
    if path := os.environ.get("PATHFM_CI_SUMMARY"):
        with open(path, "a") as f:
            f.write(line + "\n")
