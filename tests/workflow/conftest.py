"""Run snakemake as a user would: the venv's executable, the repo's Snakefile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def local_env() -> dict[str, str]:
    """The venv first on PATH (rules' ``python`` is the project's), and no Slurm probe.

    With the Slurm executor plugin installed, every snakemake start runs
    ``scontrol show config`` (~10 s when a slurm.conf names a controller that is not
    up); SLURM_CONF=/dev/null makes it fail at once. These runs are all local.
    """
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "SLURM_CONF": "/dev/null"}


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 900) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` as a user would run it locally, with the repo's Snakefile."""
    env = local_env()
    return subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A fresh working directory holding a copy of config/ (configfile paths are cwd-relative)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path
