"""The ``downloads`` bounds reach the calls that enforce them, and records hold no wall time."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pathfm.commands import download_slide, fetch_dataset
from pathfm.sources.download import DownloadResult, download_record


def _result(path: Path) -> DownloadResult:
    return DownloadResult(path=path, md5="0" * 32, size=3, bytes_transferred=3, attempts=1,
                          seconds=12.5)


def test_download_record_keeps_the_outcome_not_the_wall_time(tmp_path):
    record = download_record(_result(tmp_path / "a.svs"))
    assert "seconds" not in record and "mb_per_s" not in record
    assert record["path"] == str(tmp_path / "a.svs") and record["size"] == 3


def test_download_slide_passes_the_deadline_and_writes_a_reproducible_report(tmp_path,
                                                                             monkeypatch):
    seen = {}

    def fake_download(url, dest, **kwargs):
        seen.update(kwargs, url=url)
        return _result(Path(dest))

    monkeypatch.setattr(download_slide, "download_file", fake_download)
    report = tmp_path / "r.json"
    argv = ["--url", "http://127.0.0.1:9/x", "--dest", str(tmp_path / "x.svs"), "--md5", "0" * 32,
            "--report", str(report)]
    assert download_slide.main(argv + ["--deadline-hours", "2"]) == 0
    assert seen["deadline_s"] == 7200.0
    assert "seconds" not in json.loads(report.read_text())
    assert download_slide.main(argv) == 0
    assert seen["deadline_s"] is None  # download_file's own size-based default


def test_fetch_dataset_passes_archive_caps_and_deadline(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(fetch_dataset, "fetch_resources",
                        lambda resources, root, **kw: seen.update(kw) or [])
    monkeypatch.setattr(fetch_dataset.DATASETS["bach"], "load",
                        lambda root: pd.DataFrame({"split": ["train"]}))
    assert fetch_dataset.main(["--dataset", "bach", "--root", str(tmp_path),
                               "--max-unpacked-gib", "0.5", "--max-members", "10",
                               "--deadline-hours", "1"]) == 0
    assert seen["max_unpacked_bytes"] == 2**29 and seen["max_members"] == 10
    assert seen["deadline_s"] == 3600.0


def test_fetch_dataset_refuses_a_non_positive_cap(tmp_path):
    with pytest.raises(SystemExit):
        fetch_dataset.main(["--dataset", "mhist", "--root", str(tmp_path),
                            "--max-members", "0"])
