"""Any order of the Snakefile's include: lines plans the same jobs.

The .smk files share no module-level state: each includes common.smk (the validated
config and the plan) itself, and the planners receive what other stages produce as
data. Here the includes are reversed and rotated, and the dry-run's files and rules
(``--summary``) must equal those of the Snakefile as committed, for the demo and the
paper configuration.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import BIN, REPO, local_env

pytestmark = pytest.mark.workflow


def _reordered(tmp_path, name, order):
    root = tmp_path / name
    root.mkdir()
    shutil.copytree(REPO / "workflow", root / "workflow")
    shutil.copytree(REPO / "config", root / "config")
    lines = (REPO / "Snakefile").read_text().splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("include: ")]
    assert len(at) > 10 and at == list(range(at[0], at[-1] + 1)), "includes are one block"
    includes = order([lines[i] for i in at])
    (root / "Snakefile").write_text("\n".join(lines[:at[0]] + includes + lines[at[-1] + 1:])
                                    + "\n")
    return root, includes


def _summary(root, *args):
    result = subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(root / "Snakefile"), "-n", "--summary",
         *args], cwd=root, env=local_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert rows[0][:3] == ["output_file", "date", "rule"], rows[:2]
    return sorted((r[0], r[2]) for r in rows[1:])


ORDERS = {
    "reversed": lambda lines: lines[::-1],
    # common.smk last: every stage file must bring its own include of it.
    "rotated": lambda lines: lines[1:] + lines[:1],
}


@pytest.mark.parametrize("config_args", [(), ("--configfile", "config/paper.yaml")],
                         ids=["demo", "paper"])
def test_include_order_does_not_change_the_dag(tmp_path, config_args):
    as_committed, original = _reordered(tmp_path, "committed", lambda lines: lines)
    expected = _summary(as_committed, *config_args)
    assert len(expected) > 100
    for name, order in ORDERS.items():
        root, includes = _reordered(tmp_path, name, order)
        assert includes != original
        assert _summary(root, *config_args) == expected, name
