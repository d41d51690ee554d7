"""WSI-fraction subsets: deterministic, seeded, nested, and written as a manifest + record."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pathfm.data import train_runs as tr
from pathfm.data.wsi_subset import choose_slides, subset_size, write_subset
from pathfm.manifest import read_manifest

IDS = [f"slide_{i:03d}" for i in range(200)]


def test_subset_is_deterministic_and_independent_of_input_order():
    a = choose_slides(IDS, 0.1, seed=0)
    assert a == choose_slides(list(reversed(IDS)), 0.1, seed=0)
    assert len(a) == 20 and a == sorted(a) and set(a) <= set(IDS)
    assert a != choose_slides(IDS, 0.1, seed=1)


def test_smaller_subsets_are_nested_in_larger_ones():
    s1, s10, s30 = (set(choose_slides(IDS, f, seed=4)) for f in (0.01, 0.1, 0.3))
    assert len(s1) == 2 and s1 < s10 < s30
    assert choose_slides(IDS, 1.0, seed=4) == IDS


def test_at_least_one_slide_and_fraction_checked():
    assert subset_size(8, 0.01) == 1 and subset_size(8, 0.3) == 2
    with pytest.raises(ValueError, match="fraction"):
        subset_size(8, 0.0)


def test_written_subset_manifest_and_record(tmp_path):
    rows = [{"slide_id": s, "path": f"results/slides/c/{s}.svs", "md5": "0" * 32}
            for s in IDS[:10]]
    manifest = tmp_path / "c.tsv"
    pd.DataFrame(rows).to_csv(manifest, sep="\t", index=False)
    out, record = tmp_path / "sub" / "c.tsv", tmp_path / "sub" / "c.json"
    chosen = write_subset(manifest, 0.3, 7, out, record)
    assert list(read_manifest(out)["slide_id"]) == chosen == choose_slides(IDS[:10], 0.3, 7)
    info = json.loads(record.read_text())
    assert info["fraction"] == 0.3 and info["seed"] == 7 and info["n_slides"] == 10
    assert info["slide_ids"] == chosen


def test_train_run_inputs_follow_the_subset():
    # As the schema fills them: every run carries its wsi_subset.
    runs = {"full": {"cohorts": ["c"], "wsi_subset": {"fraction": 1.0, "seed": 0}},
            "part": {"cohorts": ["c"], "wsi_subset": {"fraction": 0.3, "seed": 7}}}
    ids = IDS[:10]
    assert tr.wsi_subset(runs, "full") is None
    assert tr.manifest_inputs(runs, "full", lambda c: f"m/{c}.tsv") == ["m/c.tsv"]
    assert tr.manifest_inputs(runs, "part", lambda c: f"m/{c}.tsv") == [
        "results/models/part/wsi_subset/c.tsv"]
    slides = tr.slide_inputs(runs, "part", lambda c: ids, lambda c, chosen: list(chosen))
    assert slides == choose_slides(ids, 0.3, 7)
    assert tr.slide_inputs(runs, "full", lambda c: ids, lambda c, chosen: list(chosen)) == ids
