"""Hostile or sloppy inputs to a download: bodies past the expected size, no overall
deadline, a manifest without a size, error texts that must say what became of the partial."""

import hashlib
import json

import pytest

from pathfm.sources.download import DownloadError, download_file, expected_size, part_path
from pathfm.sources.http import DeadlineExceeded, RetryPolicy, TransientError, with_retries

FAST = RetryPolicy(max_attempts=6, backoff_base=0.01, timeout=10)


def _url(fake, fid):
    return f"{fake.url}/data/{fid}"


def test_body_past_expected_size_stops_and_is_cut_back(fake_gdc, slide_file, tmp_path):
    """A server streaming 8 MB of junk after a 600 kB file (no Content-Length): the part never
    grows past the expected size, there is one request (no retry loop), the error says so."""
    fid, content = slide_file
    fake_gdc.fault(fid, *[("overflow", 8_000_000)] * 6)
    dest = tmp_path / "a.svs"
    with pytest.raises(DownloadError) as err:
        download_file(_url(fake_gdc, fid), dest, md5=hashlib.md5(content).hexdigest(), size=len(content),
                      policy=FAST)
    text = str(err.value)
    assert "more than the expected 600000 bytes" in text and "stopped reading" in text
    assert "kept" in text and "only verifies" in text
    assert part_path(dest).stat().st_size == len(content) and not dest.exists()
    assert len(fake_gdc.data_requests(fid)) == 1
    # The bytes kept are the file's first bytes: a rerun against a sane server only verifies them.
    res = download_file(_url(fake_gdc, fid), dest, md5=hashlib.md5(content).hexdigest(), size=len(content),
                        policy=FAST)
    assert dest.read_bytes() == content and res.bytes_transferred == 0


def test_resumed_body_past_expected_size(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, ("drop", 100_000), *[("overflow", 3_000_000)] * 5)
    dest = tmp_path / "a.svs"
    with pytest.raises(DownloadError, match="more than the expected"):
        download_file(_url(fake_gdc, fid), dest, md5=hashlib.md5(content).hexdigest(), size=len(content),
                      policy=FAST)
    assert part_path(dest).stat().st_size == len(content)
    assert part_path(dest).read_bytes() == content  # resumed at 100000, cut at the expected end
    assert [r["headers"].get("Range") for r in fake_gdc.data_requests(fid)] == [None, "bytes=100000-"]


def test_announced_length_past_expected_size_reads_nothing(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, *[("overflow", 5_000_000, True)] * 6)
    dest = tmp_path / "a.svs"
    with pytest.raises(DownloadError) as err:
        download_file(_url(fake_gdc, fid), dest, md5=hashlib.md5(content).hexdigest(), size=len(content),
                      policy=FAST)
    assert "announced 5600000 bytes" in str(err.value) and "no partial file was written" in str(err.value)
    assert not part_path(dest).exists() and len(fake_gdc.data_requests(fid)) == 1


def test_overall_deadline_against_slow_server(fake_gdc, slide_file, tmp_path):
    """~2 s of server time per file (0.2 s per 64 KiB) against a 0.2 s deadline: the download
    stops without retrying, keeps its partial, and a rerun resumes it."""
    fid, content = slide_file
    fake_gdc.chunk_delay = 0.2
    dest = tmp_path / "a.svs"
    md5 = hashlib.md5(content).hexdigest()
    with pytest.raises(DownloadError) as err:
        download_file(_url(fake_gdc, fid), dest, md5=md5, size=len(content), policy=FAST, deadline_s=0.2)
    text = str(err.value)
    assert "overall deadline of 0.2s passed" in text and "kept" in text
    assert not dest.exists() and len(fake_gdc.data_requests(fid)) == 1
    partial = part_path(dest).stat().st_size
    assert 0 < partial <= len(content)
    fake_gdc.chunk_delay = 0.0
    res = download_file(_url(fake_gdc, fid), dest, md5=md5, size=len(content), policy=FAST)
    assert dest.read_bytes() == content
    assert res.bytes_transferred == len(content) - partial


def test_deadline_counts_backoff_waits():
    """A fake clock moved only by the (fake) sleeps: the loop stops before a wait that would
    end past the deadline instead of running its 100 attempts."""
    now = [0.0]
    calls = []

    def failing(attempt):
        calls.append(attempt)
        raise TransientError("HTTP 503")

    def sleep(s):
        now[0] += s

    policy = RetryPolicy(max_attempts=100, backoff_base=1.0, backoff_max=1000)
    with pytest.raises(DeadlineExceeded, match="deadline would pass during the 8.00s wait after attempt 4"):
        with_retries(failing, policy, "x", sleep=sleep, deadline=10.0, clock=lambda: now[0])
    assert calls == [1, 2, 3, 4]  # waits 1, 2, 4 (t=7); the next wait of 8 would end at 15 > 10


def test_deadline_default_is_generous():
    from pathfm.sources.download import default_deadline

    assert default_deadline(None) == default_deadline(0) == 24 * 3600
    assert default_deadline(1000) == 6 * 3600
    assert default_deadline(10 * 10**9) == 10 * 10**9 / 100_000  # 10 GB: ~28 h at 100 kB/s


@pytest.mark.parametrize("size", [0, "0", "", float("nan"), "nan", None])
def test_manifest_without_size_verifies_by_md5(fake_gdc, slide_file, tmp_path, size):
    fid, content = slide_file
    dest = tmp_path / "a.svs"
    res = download_file(_url(fake_gdc, fid), dest, md5=hashlib.md5(content).hexdigest(), size=size, policy=FAST)
    assert dest.read_bytes() == content and res.attempts == 1 and not part_path(dest).exists()


def test_manifest_without_size_still_catches_bad_bytes(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, ("corrupt",), ("drop", 123_000))
    res = download_file(_url(fake_gdc, fid), tmp_path / "a.svs", md5=hashlib.md5(content).hexdigest(), size=0,
                        policy=FAST)
    assert res.checksum_failures == 1 and res.resumed_from == [123_000]
    assert (tmp_path / "a.svs").read_bytes() == content


def test_download_slide_cli_with_size_zero(fake_gdc, slide_file, tmp_path):
    from pathfm.commands import download_slide

    fid, content = slide_file
    dest = tmp_path / "s.svs"
    assert download_slide.main(["--url", _url(fake_gdc, fid), "--dest", str(dest), "--md5",
                                hashlib.md5(content).hexdigest(), "--size", "0", "--max-attempts", "2",
                                "--backoff", "0.01", "--report", str(tmp_path / "r.json")]) == 0
    assert dest.read_bytes() == content and json.loads((tmp_path / "r.json").read_text())["attempts"] == 1


def test_expected_size_rejects_garbage():
    assert expected_size(12) == 12 and expected_size("12") == 12 and expected_size(12.0) == 12
    assert expected_size(-5) is None
    with pytest.raises(ValueError, match="not a byte count"):
        expected_size("twelve")
    with pytest.raises(ValueError, match="whole number"):
        expected_size(12.5)


def test_error_says_partial_deleted_after_md5_mismatch(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, *[("corrupt",)] * 2)
    dest = tmp_path / "a.svs"
    with pytest.raises(DownloadError) as err:
        download_file(_url(fake_gdc, fid), dest, md5=hashlib.md5(content).hexdigest(), size=len(content),
                      policy=RetryPolicy(max_attempts=2, backoff_base=0.01))
    text = str(err.value)
    assert not part_path(dest).exists()
    assert "failed the md5 check and was deleted" in text and "kept for resume" not in text


def test_error_says_partial_kept_after_drop(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, ("drop", 250_000))
    dest = tmp_path / "a.svs"
    with pytest.raises(DownloadError) as err:
        download_file(_url(fake_gdc, fid), dest, md5=hashlib.md5(content).hexdigest(), size=len(content),
                      policy=RetryPolicy(max_attempts=1))
    assert part_path(dest).stat().st_size == 250_000
    assert "(250000 bytes) is kept; a rerun resumes from byte 250000" in str(err.value)


def test_error_without_any_bytes_says_nothing_written(fake_gdc, slide_file, tmp_path):
    fid, content = slide_file
    fake_gdc.fault(fid, ("status", 503, None))
    with pytest.raises(DownloadError, match="no partial file was written"):
        download_file(_url(fake_gdc, fid), tmp_path / "a.svs", md5=hashlib.md5(content).hexdigest(),
                      size=len(content), policy=RetryPolicy(max_attempts=1))
