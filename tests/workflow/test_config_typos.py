"""A typo in a cross-key setting stops `snakemake -n` before the DAG, naming the key."""

import pytest

from .conftest import REPO, snakemake

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize("typo, key", [
    ("typo_table_target", "tables.targets.kaiko_tabel1_linear_probe"),
    ("typo_table_cell_benchmark", "tables.targets.h0mini_table2_eva.cells.BACH"),
    ("typo_sweep_axis", "sweeps.axes.magnifcation"),
])
def test_typo_stops_the_dry_run(typo, key):
    result = snakemake("-n", "--cores", "1", "--configfile", "config/config.yaml",
                       str(REPO / "tests" / "configs" / f"{typo}.yaml"))
    assert result.returncode != 0
    assert f"config {key}:" in result.stderr + result.stdout
    assert "Building DAG of jobs" not in result.stdout
