"""The published values as transcribed: every file names its source, a few cells by value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathfm.report.tables import read_published

VALUES = Path(__file__).resolve().parents[2] / "config" / "paper_values"


@pytest.mark.parametrize("path", sorted(VALUES.glob("*.csv")), ids=lambda p: p.stem)
def test_every_file_names_its_source(path):
    frame = read_published(path)
    assert "source" in frame.columns
    assert frame["source"].notna().all() and frame["source"].str.len().gt(10).all()


def _cell(name, key, column):
    frame = read_published(VALUES / f"{name}.csv")
    return frame.set_index(frame.columns[0]).loc[key, column]


@pytest.mark.parametrize("name,key,column,value", [
    ("h0mini_table1_hest", "H0-mini", "IDC", 0.5909),
    ("h0mini_table1_hest", "Phikon", "Average", 0.3780),
    ("h0mini_table1_hest", "H-Optimus-0", "LYMPH_IDC", 0.2664),
    ("h0mini_table2_eva", "H0-mini", "Cam16", 0.842),
    ("h0mini_table2_eva", "Virchow2", "All", 0.794),
    ("kaiko_table1_linear_probe", "DINO ViT-B8 (ours)", "CoNSeP", 0.741),
    ("kaiko_table1_linear_probe", "ViT-S16 (rand.)", "CRC", 0.617),
    ("kaiko_table8_linear_probe_std", "DINO ViT-B8 (ours)", "MHIST_std", 0.021),
    ("kaiko_table8_linear_probe_std", "Phikon", "PCam/val_mean", 0.912),
    ("kaiko_table2_magnification", "{5,10,20,40}x", "BACH", 0.753),
    ("kaiko_table2_magnification", "20x", "PCam/test", 0.874),
    ("kaiko_table3_wsi_fraction", "TCGA 30%", "BACH", 0.733),
    ("kaiko_table4_distinct_patches", "1e5", "TP53", 0.573),
    ("h0mini_table3_plism", "CONCH", "cosine_similarity_mean", 0.902),
])
def test_cells_as_printed(name, key, column, value):
    assert _cell(name, key, column) == pytest.approx(value, abs=1e-9)


def test_not_available_cells_are_empty():
    assert _cell("kaiko_table1_linear_probe", "Virchow", "BACH") != _cell(
        "kaiko_table1_linear_probe", "Virchow", "BACH")  # NaN: the paper prints n/a


def test_gpfm_summary_numbers():
    frame = read_published(VALUES / "gpfm_reported_summary.csv")
    rank = frame[(frame.model == "GPFM") & (frame.family == "all_39_tasks")
                 & (frame.metric == "average_rank")]
    assert rank["value"].tolist() == [1.36]
    top1 = frame[(frame.family == "retrieval_crc100k") & (frame.metric == "top1_acc")]
    assert top1["value"].tolist() == [0.906]
    gains = read_published(VALUES / "gpfm_fig8_expert_distillation.csv").set_index("metric")
    assert gains.loc["auc", "delta"] == pytest.approx(0.006)
