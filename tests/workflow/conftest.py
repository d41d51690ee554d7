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


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 900) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` with the venv first on PATH so rules' ``python`` is the project's."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A fresh working directory holding a copy of config/ (configfile paths are cwd-relative)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path
