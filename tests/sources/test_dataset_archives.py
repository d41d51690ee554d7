"""Archives as hostile input: bookkeeping names, bombs, staging, verification before opening."""

import gzip
import hashlib
import io
import json
import os
import warnings
import zipfile

import pytest

from pathfm.sources.datasets.fetch import (
    LOCK_NAME,
    DatasetError,
    Resource,
    extract_zip,
    fetch_resources,
    marker_path,
)
from pathfm.sources.http import RetryPolicy

from .fake_gdc import FakeGDC

FAST = RetryPolicy(max_attempts=2, backoff_base=0.01, timeout=10)


def _zip(files, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names on purpose
        with zipfile.ZipFile(buf, "w", compression) as zf:
            for name, data in files:
                zf.writestr(name, data)
    return buf.getvalue()


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


@pytest.fixture
def server():
    with FakeGDC(lifetime=60) as fake:
        yield fake


def _res(server, name, data, **kw):
    server.add_file(name, data, {})
    return Resource(name, f"{server.url}/data/{name}", **kw)


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("member", [
    LOCK_NAME, "checksums.JSON", "sub/CHECKSUMS.json",  # the checksum lock
    ".later.bin.ok", ".LATER.BIN.OK", "deep/.x.ok",  # verified markers
    "later.bin.part", "later.bin.unpack.part", "a/b.partial",  # partial downloads, staging
])
def test_member_colliding_with_bookkeeping_is_refused(server, tmp_path, member):
    later_bytes = b"the real later file"
    evil = _zip([("data/ok.txt", b"fine"), (member, json.dumps({"later.bin": "0" * 32}).encode())])
    res = [_res(server, "evil.zip", evil, archive="zip"), _res(server, "later.bin", later_bytes)]
    lock_before = {"other.zip": "1" * 32}
    (tmp_path / LOCK_NAME).write_text(json.dumps(lock_before))
    with pytest.raises(DatasetError) as err:
        fetch_resources(res, tmp_path, policy=FAST)
    text = str(err.value)
    assert str(tmp_path / "evil.zip") in text and repr(member) in text and "bookkeeping" in text
    assert "refusing to extract" in text and "check the source" in text
    assert json.loads((tmp_path / LOCK_NAME).read_text()) == lock_before  # lock untouched
    assert not marker_path(tmp_path, "later.bin").exists() and not marker_path(tmp_path, "evil.zip").exists()
    assert not (tmp_path / "data").exists()  # nothing of the refused archive reached root
    assert not (tmp_path / "evil.zip").exists()  # it had no checksum to trust it by: deleted
    assert _listing(tmp_path) == [LOCK_NAME]


def test_planted_marker_no_longer_skips_a_later_resource(server, tmp_path):
    """The exploit end to end: on the old code the later resource counted as fetched."""
    later = b"later content"
    evil = _zip([(".later.bin.ok", b"")])
    res = [_res(server, "evil.zip", evil, archive="zip"), _res(server, "later.bin", later, md5=_md5(later))]
    with pytest.raises(DatasetError):
        fetch_resources(res, tmp_path, policy=FAST)
    fetch_resources(res[1:], tmp_path, policy=FAST)
    assert len(server.data_requests("later.bin")) == 1 and (tmp_path / "later.bin").read_bytes() == later


def test_marker_with_wrong_checksum_is_not_trusted(server, tmp_path):
    data = b"payload"
    res = [_res(server, "r.bin", data, md5=_md5(data))]
    marker_path(tmp_path, "r.bin").write_text("")  # planted (or left by another version of the file)
    fetch_resources(res, tmp_path, policy=FAST)
    assert len(server.data_requests("r.bin")) == 1 and (tmp_path / "r.bin").read_bytes() == data
    assert marker_path(tmp_path, "r.bin").read_text() == _md5(data)
    fetch_resources(res, tmp_path, policy=FAST)  # now verified: skipped
    assert len(server.data_requests("r.bin")) == 1


@pytest.mark.parametrize("member", ["later.bin", "LATER.bin/x", "pcam.h5"])
def test_member_replacing_another_resource_is_refused(server, tmp_path, member):
    gz = gzip.compress(b"h5")
    res = [_res(server, "a.zip", _zip([(member, b"x")]), archive="zip"),
           _res(server, "later.bin", b"l"), _res(server, "pcam.h5.gz", gz, md5=_md5(b"h5"), archive="gz",
                                                 md5_of="extracted")]
    with pytest.raises(DatasetError, match="another resource of this dataset"):
        fetch_resources(res, tmp_path, policy=FAST)


@pytest.mark.parametrize("member", ["../escape.txt", "/abs.txt", "a/../../escape.txt", "..\\escape.txt",
                                    "C:/x.txt"])
def test_escaping_members_still_refused(server, tmp_path, member):
    res = [_res(server, "evil.zip", _zip([(member, b"x")]), archive="zip")]
    with pytest.raises(DatasetError, match="unsafe member"):
        fetch_resources(res, tmp_path / "root", policy=FAST)
    assert _listing(tmp_path) == ["root"]


def test_duplicate_members_refused(server, tmp_path):
    res = [_res(server, "dup.zip", _zip([("a/x.txt", b"1"), ("a/x.txt", b"2")]), archive="zip")]
    with pytest.raises(DatasetError, match="'a/x.txt' appears twice"):
        fetch_resources(res, tmp_path, policy=FAST)
    assert not (tmp_path / "a").exists()


def test_zip_bomb_capped(server, tmp_path):
    """A 30 kB zip that would expand to 30 MiB: refused from the headers before a byte is written."""
    bomb = _zip([(f"z/{i}.bin", b"\0" * (3 << 20)) for i in range(10)])
    assert len(bomb) < 40_000
    res = [_res(server, "bomb.zip", bomb, md5=_md5(bomb), archive="zip")]
    with pytest.raises(DatasetError) as err:
        fetch_resources(res, tmp_path, policy=FAST, max_unpacked_bytes=16 << 20)
    text = str(err.value)
    assert "past the limit of 16777216 bytes" in text and "max_unpacked_bytes" in text
    assert str(tmp_path / "bomb.zip") in text and "kept at" in text  # it matched its md5: kept for a rerun
    assert _listing(tmp_path) == ["bomb.zip"]
    # A rerun with a cap that fits does not download it again.
    fetch_resources(res, tmp_path, policy=FAST, max_unpacked_bytes=64 << 20)
    assert len(server.data_requests("bomb.zip")) == 1 and (tmp_path / "z/9.bin").stat().st_size == 3 << 20


def test_zip_cap_counted_while_streaming(tmp_path, monkeypatch):
    """Headers that understate the size (here: a decompressor handing over more than declared)
    are no way around the cap: bytes are counted as they come out."""
    data = _zip([("a.bin", b"small"), ("b.bin", b"tiny")])
    (tmp_path / "x.zip").write_bytes(data)
    real_open = zipfile.ZipFile.open

    def open_more(self, info, *a, **kw):
        name = info if isinstance(info, str) else info.filename
        return io.BytesIO(b"\0" * (3 << 20)) if name == "b.bin" else real_open(self, info, *a, **kw)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_more)
    with pytest.raises(DatasetError, match="member 'b.bin' takes the expanded size to"):
        extract_zip(tmp_path / "x.zip", tmp_path / "out", max_unpacked_bytes=1 << 20)
    assert not (tmp_path / "out" / "a.bin").exists()  # the member before it never left staging
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


def test_member_count_capped(server, tmp_path):
    res = [_res(server, "many.zip", _zip([(f"m/{i}", b"") for i in range(50)]), archive="zip")]
    with pytest.raises(DatasetError, match="50 members, more than the limit of 10"):
        fetch_resources(res, tmp_path, policy=FAST, max_members=10)
    assert not (tmp_path / "m").exists()


def test_gz_bomb_capped_and_never_placed(server, tmp_path):
    bomb = gzip.compress(b"\0" * (20 << 20))
    res = [_res(server, "pcam_x.h5.gz", bomb, md5="2" * 32, archive="gz", md5_of="extracted")]
    with pytest.raises(DatasetError, match="pcam_x.h5 expands to .* bytes and more, past the limit"):
        fetch_resources(res, tmp_path, policy=FAST, max_unpacked_bytes=8 << 20)
    assert _listing(tmp_path) == []  # no output, no staging, and the unverified .gz deleted


def test_gz_with_extracted_md5_is_verified_before_it_is_placed(server, tmp_path, monkeypatch):
    """PCam: the published md5 is of the unpacked file, so the .gz is decompressed into a
    staging file and only a matching result is renamed into place."""
    content = b"not the published h5"
    res = [_res(server, "p.h5.gz", gzip.compress(content), md5="3" * 32, archive="gz", md5_of="extracted")]
    placed = []
    real_replace = os.replace

    def spy(src, dst, *a, **kw):
        placed.append(os.fspath(dst))
        return real_replace(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", spy)
    with pytest.raises(DatasetError) as err:
        fetch_resources(res, tmp_path, policy=FAST)
    assert str(tmp_path / "p.h5") not in placed  # never under its final name, not even for a moment
    assert "does not match the published" in str(err.value) and str(tmp_path / "p.h5.gz") in str(err.value)
    assert _listing(tmp_path) == []


def test_gz_download_recorded_and_verified_before_reopening(server, tmp_path):
    """A .gz without a published download checksum is recorded once its content verified;
    a later fetch then refuses a changed .gz before opening it."""
    h5 = b"h5 payload " * 100
    first = gzip.compress(h5, compresslevel=9)
    res = [_res(server, "p.h5.gz", first, md5=_md5(h5), archive="gz", md5_of="extracted")]
    fetch_resources(res, tmp_path, policy=FAST)
    assert json.loads((tmp_path / LOCK_NAME).read_text()) == {"p.h5.gz": _md5(first)}
    assert (tmp_path / "p.h5").read_bytes() == h5
    # Upstream swaps the .gz (here: a bomb); the marker and the output are gone.
    server.files["p.h5.gz"].content = gzip.compress(b"\0" * (20 << 20))
    marker_path(tmp_path, "p.h5.gz").unlink()
    (tmp_path / "p.h5").unlink()
    with pytest.raises(DatasetError, match="gave up.*recorded in .* on first use"):  # != the recorded md5
        fetch_resources(res, tmp_path, policy=FAST)
    assert not (tmp_path / "p.h5").exists() and not (tmp_path / "p.h5.gz").exists()


def test_gz_with_published_download_md5_checked_first(server, tmp_path):
    h5 = b"h5"
    res = [_res(server, "p.h5.gz", gzip.compress(b"\0" * (20 << 20)), md5=_md5(h5), archive="gz",
                md5_of="extracted", download_md5=_md5(gzip.compress(h5)))]
    with pytest.raises(Exception, match="gave up"):
        fetch_resources(res, tmp_path, policy=FAST)
    assert _listing(tmp_path) == []


def test_staging_means_all_or_nothing(server, tmp_path):
    """A damaged last member: none of the members before it appear in root."""
    good = _zip([("d/a.txt", b"A" * 1000), ("d/b.txt", b"B" * 1000)], zipfile.ZIP_STORED)
    i = good.rindex(b"B" * 1000)
    damaged = good[:i] + b"X" + good[i + 1:]  # CRC of d/b.txt no longer matches
    res = [_res(server, "c.zip", damaged, md5=_md5(damaged), archive="zip")]
    with pytest.raises(DatasetError) as err:
        fetch_resources(res, tmp_path, policy=FAST)
    assert "member 'd/b.txt' cannot be read" in str(err.value) and str(tmp_path / "c.zip") in str(err.value)
    assert _listing(tmp_path) == ["c.zip"]


def test_two_archives_merge_into_one_folder(server, tmp_path):
    a = _zip([("CRC/ADI/1.tif", b"1")])
    b = _zip([("CRC/TUM/2.tif", b"2")])
    res = [_res(server, "a.zip", a, md5=_md5(a), archive="zip"), _res(server, "b.zip", b, md5=_md5(b), archive="zip")]
    fetch_resources(res, tmp_path, policy=FAST)
    assert _listing(tmp_path) == [".a.zip.ok", ".b.zip.ok", "CRC", "CRC/ADI", "CRC/ADI/1.tif", "CRC/TUM",
                                  "CRC/TUM/2.tif"]


def test_something_in_the_way_named(server, tmp_path):
    (tmp_path / "CRC").write_text("a file where the archive has a folder")
    a = _zip([("CRC/ADI/1.tif", b"1")])
    with pytest.raises(DatasetError, match="a file of that name is in the way"):
        fetch_resources([_res(server, "a.zip", a, md5=_md5(a), archive="zip")], tmp_path, policy=FAST)
