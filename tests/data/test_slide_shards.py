"""Shards of per-slide steps: slicing, slide-by-slide resume, marker expansion."""

from __future__ import annotations

import json

import pytest

from pathfm.data.slide_shards import covering_shards, expand_markers, run_shard, shard_of, shard_slices


def test_shards_cover_every_slide_once_in_order():
    ids = [f"s{i}" for i in range(7)]
    assert [list(r) for r in shard_slices(7, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert sum((shard_of(ids, 3, k) for k in range(3)), []) == ids
    with pytest.raises(IndexError):
        shard_of(ids, 3, 3)
    with pytest.raises(ValueError):
        shard_slices(7, 0)


def test_covering_shards_of_a_slide_range():
    assert list(covering_shards(0, 200, 50)) == [0, 1, 2, 3]
    assert list(covering_shards(40, 60, 50)) == [0, 1]
    assert list(covering_shards(50, 51, 50)) == [1]
    assert list(covering_shards(5, 5, 50)) == []


def _step(tmp_path, calls, fail_on=None):
    def step(slide_id):
        if slide_id == fail_on:
            raise RuntimeError("node lost")
        calls.append(slide_id)
        out = tmp_path / f"{slide_id}.out"
        out.write_text(slide_id)
        return [out]
    return step


def test_a_failed_shard_resumes_after_the_slides_it_finished(tmp_path):
    marker = tmp_path / "shards" / "00000.shard.json"
    slides, calls = ["a", "b", "c"], []
    with pytest.raises(RuntimeError):
        run_shard(marker, slides, {"p": 1}, _step(tmp_path, calls, fail_on="b"), log=lambda m: None)
    assert calls == ["a"] and not marker.exists()

    calls.clear()
    summary = run_shard(marker, slides, {"p": 1}, _step(tmp_path, calls), log=lambda m: None)
    assert calls == ["b", "c"]  # "a" is not redone
    assert summary["n_resumed"] == 1
    assert [r["slide_id"] for r in summary["slides"]] == slides
    assert not marker.with_name(marker.name + ".progress.jsonl").exists()
    assert expand_markers([marker, "x.zarr"]) == [str(tmp_path / f"{s}.out") for s in slides] + ["x.zarr"]
    assert json.loads(marker.read_text())["n_slides"] == 3


def test_finished_slides_are_redone_when_settings_change_or_outputs_vanish(tmp_path):
    marker = tmp_path / "00000.shard.json"
    calls = []
    with pytest.raises(RuntimeError):
        run_shard(marker, ["a", "b", "c"], {"p": 1}, _step(tmp_path, calls, fail_on="c"),
                  log=lambda m: None)
    (tmp_path / "b.out").unlink()
    calls.clear()
    run_shard(marker, ["a", "b", "c"], {"p": 1}, _step(tmp_path, calls), log=lambda m: None)
    assert calls == ["b", "c"]  # b's output is gone

    marker.unlink()
    with pytest.raises(RuntimeError):
        run_shard(marker, ["a", "b"], {"p": 1}, _step(tmp_path, [], fail_on="b"), log=lambda m: None)
    calls.clear()
    run_shard(marker, ["a", "b"], {"p": 2}, _step(tmp_path, calls), log=lambda m: None)
    assert calls == ["a", "b"]  # new settings: nothing is reused


def test_a_rerun_writes_the_same_marker_bytes(tmp_path):
    """No wall time in the marker: a shard redone from scratch gives identical bytes."""
    import time

    markers = []
    for i in range(2):
        marker = tmp_path / f"run{i}" / "m.shard.json"

        def slow_step(slide_id, root=tmp_path / f"run{i}", delay=0.01 * (i + 1)):
            time.sleep(delay)
            out = root / f"{slide_id}.out"
            out.write_text(slide_id)
            return [tmp_path / f"{slide_id}.out"]

        run_shard(marker, ["a", "b"], {"p": 1}, slow_step, log=lambda m: None)
        markers.append(marker.read_bytes())
    assert markers[0] == markers[1]
