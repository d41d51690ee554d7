"""One file per call: resumable (HTTP Range), verified (md5), retried, renamed only when right.

The partial file lives at ``<dest>.part``. A rerun after a crash continues from
its size with ``Range: bytes=<size>-``; the final name appears (atomic rename)
only once the md5 matches, so a half or corrupt file never sits where later
stages look. A mismatch deletes the partial and starts again from zero.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from tqdm import tqdm

from pathfm.io import md5_file
from pathfm.sources.http import (
    DEFAULT_POLICY,
    RemoteError,
    RetryPolicy,
    TransientError,
    get_following_redirects,
    raise_for_retry,
    with_retries,
)

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A file that could not be fetched and verified; nothing was left under its final name."""


class ChecksumMismatch(TransientError):
    """The bytes arrived but their md5 is wrong: the partial is discarded and fetched again."""


@dataclass
class DownloadResult:
    path: Path
    md5: str
    size: int
    bytes_transferred: int = 0  # body bytes received over the network, all attempts together
    attempts: int = 0
    resumed_from: list[int] = field(default_factory=list)  # partial sizes a Range request continued
    checksum_failures: int = 0
    skipped: bool = False  # the final file was already there and verified
    seconds: float = 0.0


def part_path(dest: str | Path) -> Path:
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def download_file(
    url: str,
    dest: str | Path,
    *,
    md5: str | None,
    size: int | None = None,
    token: str | None = None,
    token_header: str = "X-Auth-Token",
    policy: RetryPolicy = DEFAULT_POLICY,
    session: requests.Session | None = None,
    chunk_size: int = _CHUNK,
    progress: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Fetch ``url`` to ``dest``, resuming ``dest.part``; verify ``md5`` (and ``size`` if given).

    ``token`` is sent as ``token_header`` to the original host only; it is never
    logged, stored or put in an exception message.
    """
    dest = Path(dest)
    # md5=None only for sources that publish no checksum; the caller then verifies
    # (or records) the digest itself — see datasets.fetch.
    md5 = md5.lower() if md5 else None
    result = DownloadResult(path=dest, md5=md5 or "", size=size or 0)
    t0 = time.perf_counter()
    if dest.is_file() and md5 and (size is None or dest.stat().st_size == size) and md5_file(dest) == md5:
        result.skipped, result.size = True, dest.stat().st_size
        log.info("%s already present and verified", dest)
        return result
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    session = session or requests.Session()
    secret = {token_header: token} if token else {}
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=dest.name, disable=not progress, mininterval=5)

    def attempt(n: int) -> None:
        result.attempts = n
        _one_attempt(url, part, md5, size, session, secret, policy, chunk_size, result, bar)

    try:
        with_retries(attempt, policy, f"download {dest.name}", sleep=sleep)
    except RemoteError as err:
        raise DownloadError(f"{url} -> {dest}: {err}; any partial file ({part.name}) is kept for resume") from None
    finally:
        bar.close()
    os.replace(part, dest)
    result.size = dest.stat().st_size
    result.seconds = time.perf_counter() - t0
    log.info("%s: %d bytes verified (transferred %d in %d attempt(s), %.1fs)",
             dest, result.size, result.bytes_transferred, result.attempts, result.seconds)
    return result


def _one_attempt(url, part: Path, md5, size, session, secret, policy, chunk_size, result, bar) -> None:
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:  # stale partial of another version of the file
        part.unlink()
        offset = 0
    if size is not None and offset == size:  # complete from an earlier run: only verify
        _verify_or_discard(part, md5, size, result)
        return
    digest = hashlib.md5()
    if offset:
        _hash_into(part, digest)
    # identity: the md5 is of the stored bytes, so no transparent decompression.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    response = get_following_redirects(session, url, headers, secret, policy.timeout)
    with response:
        if response.status_code == 416 and offset:
            # Server says our range starts at/after the end: the partial may be complete.
            _verify_or_discard(part, md5, size, result)
            return
        raise_for_retry(response, f"GET {_redact(url)}")
        if offset and response.status_code == 206:
            start = _content_range_start(response.headers.get("Content-Range"))
            if start != offset:
                raise TransientError(f"server answered range start {start}, asked {offset}")
            result.resumed_from.append(offset)
            mode = "ab"
            log.info("%s: resuming from byte %d", part.name, offset)
        else:
            # 200 to a ranged request means the server ignored Range: start over.
            mode, offset, digest = "wb", 0, hashlib.md5()
        bar.reset(total=size)
        bar.update(offset)
        with open(part, mode) as f:
            # read1 hands over whatever has arrived, so bytes received before a dropped
            # connection reach the partial file (iter_content would lose its buffer).
            while chunk := response.raw.read1(chunk_size):
                f.write(chunk)
                digest.update(chunk)
                result.bytes_transferred += len(chunk)
                bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())
    got = part.stat().st_size
    if size is not None and got < size:
        raise TransientError(f"connection ended at byte {got} of {size}")
    if md5 is None:
        result.md5 = digest.hexdigest()
    elif digest.hexdigest() != md5 or (size is not None and got != size):
        _discard(part, result, f"md5 {digest.hexdigest()} != expected {md5} (size {got})")


def _verify_or_discard(part: Path, md5: str | None, size: int | None, result: DownloadResult) -> None:
    got = md5_file(part)
    result.md5 = result.md5 or got
    if md5 is not None and got != md5 or (size is not None and part.stat().st_size != size):
        _discard(part, result, f"md5 {got} != expected {md5}")


def _discard(part: Path, result: DownloadResult, why: str) -> None:
    part.unlink(missing_ok=True)
    result.checksum_failures += 1
    raise ChecksumMismatch(f"{part.name}: {why}; partial deleted, fetching again from byte 0")


def _hash_into(path: Path, digest) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200"
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _redact(url: str) -> str:
    # Query strings may carry signed tokens on some hosts; log the path only.
    return url.split("?", 1)[0]
