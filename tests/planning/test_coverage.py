"""The coverage report: published cells the paper config computes, each missing one with
a reason."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pathfm.commands import coverage as coverage_command
from pathfm.workflow.coverage import coverage, paper_totals, value_columns
from pathfm.workflow.plan import Plan

from .conftest import ROOT, resolved


@pytest.fixture(scope="module")
def paper_rows():
    return coverage(Plan(resolved("config/paper.yaml"), ROOT, exists=lambda p: False))


def test_every_published_cell_is_computed_or_has_a_reason(paper_rows):
    for c in paper_rows:
        missing = sum(len(cells) for cells in c.missing.values())
        assert c.computed + missing == c.published, c.target
        assert all(reason for reason in c.missing)


def test_published_cells_are_the_csv_numbers(paper_rows):
    by_table = {c.target: c for c in paper_rows}
    frame = pd.read_csv(ROOT / "config" / "paper_values" / "h0mini_table2_eva.csv")
    assert value_columns(frame, ["size"]) == ["BACH", "CRC", "MHIST", "PCam", "Cam16", "PANDA",
                                              "CoNSeP", "MoNuSAC", "All"]
    assert by_table["h0mini_table2_eva"].published == frame.shape[0] * 9
    std = pd.read_csv(ROOT / "config" / "paper_values" / "kaiko_table8_linear_probe_std.csv")
    assert "BACH" in value_columns(std) and "BACH_std" not in value_columns(std)


def test_the_rows_of_models_trained_here_count(paper_rows):
    by_table = {c.target: c for c in paper_rows}
    kaiko = by_table["kaiko_table1_linear_probe"]
    # Every cell of a kaiko "(ours)" row is computed, TP53 (built from TCGA) included,
    # and every sweep row of Tables II-IV.
    assert not [c for cells in kaiko.missing.values() for c in cells if "(ours)" in c]
    for sweep in ("kaiko_table2_magnification", "kaiko_table3_wsi_fraction",
                  "kaiko_table4_distinct_patches"):
        left = [c for reason, cells in by_table[sweep].missing.items() for c in cells
                if "no model" not in reason]
        assert left == [], (sweep, left)
    totals = paper_totals(paper_rows)
    assert set(totals) == {"h0mini", "kaiko"}
    assert all(0 < a <= b for a, b in totals.values())


def test_the_command_prints_writes_json_and_gates_on_the_share(tmp_path, capsys):
    out = tmp_path / "coverage.json"
    assert coverage_command.main(["--config", str(ROOT / "config" / "paper.yaml"),
                                  "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "TOTAL h0mini" in printed and "TOTAL kaiko" in printed
    report = json.loads(out.read_text())
    assert set(report["papers"]) == {"h0mini", "kaiko"}
    assert coverage_command.main(["--config", str(ROOT / "config" / "paper.yaml"),
                                  "--min-share", "1.01"]) == 1
