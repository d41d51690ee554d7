"""Resumable, verified downloads against the loopback GDC with injected faults."""

import hashlib
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pathfm.sources.download import DownloadError, download_file, part_path
from pathfm.sources.http import RetryPolicy

FAST = RetryPolicy(max_attempts=6, backoff_base=0.01, timeout=10)
REPO = Path(__file__).resolve().parents[2]


def _get(fake, fid, content, dest, **kw):
    kw.setdefault("policy", FAST)
    return download_file(f"{fake.url}/data/{fid}", dest, md5=hashlib.md5(content).hexdigest(),
                         size=len(content), **kw)


def test_clean_download(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    res = _get(fake_gdc, fid, content, tmp_path / "a.svs")
    assert (tmp_path / "a.svs").read_bytes() == content
    assert res.bytes_transferred == len(content) and res.attempts == 1
    assert not part_path(tmp_path / "a.svs").exists()
    again = _get(fake_gdc, fid, content, tmp_path / "a.svs")
    assert again.skipped and again.bytes_transferred == 0


def test_survives_dropped_connections_and_resumes(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, ("drop", 100_000), ("drop", 50_000), ("drop", 1))
    res = _get(fake_gdc, fid, content, tmp_path / "a.svs")
    assert hashlib.md5((tmp_path / "a.svs").read_bytes()).hexdigest() == hashlib.md5(content).hexdigest()
    assert res.attempts == 4
    # Each retry continued where the last one stopped: no byte fetched twice.
    assert res.resumed_from == [100_000, 150_000, 150_001]
    assert res.bytes_transferred == len(content)
    ranges = [r["headers"].get("Range") for r in fake_gdc.data_requests(fid)]
    assert ranges == [None, "bytes=100000-", "bytes=150000-", "bytes=150001-"]


def test_corruption_detected_never_final_and_refetched(fake_gdc, slide_file, tmp_path, monkeypatch):
    fid, content = slide_file
    fake_gdc.fault(fid, ("corrupt",))
    dest = tmp_path / "a.svs"
    seen_final_before_ok = []
    import pathfm.sources.download as dl
    real = dl._discard

    def spy(part, result, why):
        seen_final_before_ok.append(dest.exists())
        return real(part, result, why)

    monkeypatch.setattr(dl, "_discard", spy)
    res = _get(fake_gdc, fid, content, dest)
    assert seen_final_before_ok == [False]  # the corrupt bytes were never under the final name
    assert res.checksum_failures == 1 and res.attempts == 2
    assert res.bytes_transferred == 2 * len(content)  # refetched from zero
    assert dest.read_bytes() == content


def test_persistent_corruption_fails_cleanly(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, *[("corrupt",)] * 3)
    dest = tmp_path / "a.svs"
    with pytest.raises(DownloadError, match="gave up after 3 attempts"):
        _get(fake_gdc, fid, content, dest, policy=RetryPolicy(max_attempts=3, backoff_base=0.01))
    assert not dest.exists() and not part_path(dest).exists()


def test_interrupted_then_rerun_resumes(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    dest = tmp_path / "a.svs"
    fake_gdc.fault(fid, ("drop", 250_000))
    with pytest.raises(DownloadError):
        _get(fake_gdc, fid, content, dest, policy=RetryPolicy(max_attempts=1))
    assert part_path(dest).stat().st_size == 250_000 and not dest.exists()
    res = _get(fake_gdc, fid, content, dest)
    assert res.resumed_from == [250_000]
    assert res.bytes_transferred == len(content) - 250_000
    assert dest.read_bytes() == content


def test_killed_process_resumes(fake_gdc, slide_file, tmp_path):
    """A real crash: kill the CLI mid-transfer, rerun it, count what the rerun fetched."""
    fid, content = slide_file
    fake_gdc.chunk_delay = 0.05  # ~1.3 MB/s: the kill lands mid-file
    dest = tmp_path / "slide.svs"
    md5 = hashlib.md5(content).hexdigest()
    cmd = [sys.executable, str(REPO / "scripts" / "download_slide.py"), "--url", f"{fake_gdc.url}/data/{fid}",
           "--dest", str(dest), "--md5", md5, "--size", str(len(content)), "--report", str(tmp_path / "r.json")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    part = part_path(dest)
    deadline = time.time() + 20
    while time.time() < deadline and (not part.exists() or part.stat().st_size < 130_000):
        time.sleep(0.02)
    proc.kill()
    proc.wait(timeout=10)
    partial = part.stat().st_size
    assert 0 < partial < len(content) and not dest.exists()
    fake_gdc.chunk_delay = 0.0
    subprocess.run(cmd, check=True, timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import json
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["bytes_transferred"] == len(content) - partial
    assert report["resumed_from"] == [partial]
    assert dest.read_bytes() == content


def test_retry_after_honoured_on_429_and_503_backoff(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, ("status", 429, 1), ("status", 503, None))
    waits = []
    res = _get(fake_gdc, fid, content, tmp_path / "a.svs", sleep=waits.append)
    assert waits == [1.0, FAST.backoff_base * 2]  # Retry-After, then the backoff of attempt 2
    assert res.attempts == 3 and (tmp_path / "a.svs").read_bytes() == content


def test_retry_after_really_waits(fake_gdc, slide_file, tmp_path, monkeypatch):
    """Without an injected ``sleep`` the Retry-After wait goes to the real ``time.sleep``.

    Checked without a clock: the default is ``time.sleep`` itself, and a call that passes
    no ``sleep`` hands the server's Retry-After to that default (swapped for a recorder).
    """
    import inspect

    from pathfm.sources import http

    assert inspect.signature(download_file).parameters["sleep"].default is time.sleep
    assert inspect.signature(http.with_retries).parameters["sleep"].default is time.sleep
    waits = []
    monkeypatch.setitem(download_file.__kwdefaults__, "sleep", waits.append)
    fid, content = slide_file
    fake_gdc.fault(fid, ("status", 429, 1))
    res = _get(fake_gdc, fid, content, tmp_path / "a.svs")
    assert waits == [1.0] and res.attempts == 2
    assert (tmp_path / "a.svs").read_bytes() == content


def test_server_ignoring_range_restarts_cleanly(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, ("drop", 70_000), ("ignore_range",))
    res = _get(fake_gdc, fid, content, tmp_path / "a.svs")
    assert (tmp_path / "a.svs").read_bytes() == content
    assert res.bytes_transferred == 70_000 + len(content)


def test_token_sent_as_header_never_logged(fake_gdc, slide_file, tmp_path, caplog):
    fid, content = slide_file
    secret = "s3cr3t-TOKEN-value-0123456789"
    fake_gdc.require_token = secret
    fake_gdc.fault(fid, ("drop", 10_000), ("status", 503, 0))
    caplog.set_level(logging.DEBUG)
    res = _get(fake_gdc, fid, content, tmp_path / "a.svs", token=secret)
    assert all(r["headers"].get("X-Auth-Token") == secret for r in fake_gdc.data_requests(fid))
    assert secret not in caplog.text
    assert secret not in repr(res)
    assert all(secret.encode() not in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_wrong_token_is_fatal_without_echoing_it(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.require_token = "right"
    with pytest.raises(DownloadError) as err:
        _get(fake_gdc, fid, content, tmp_path / "a.svs", token="wrong-secret-xyz")
    assert "HTTP 403" in str(err.value) and "wrong-secret-xyz" not in str(err.value)
    assert len(fake_gdc.data_requests(fid)) == 1  # 403 is not retried
