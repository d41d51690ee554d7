"""One file per call: resumable (HTTP Range), verified (md5), retried, renamed only when right.

The partial file lives at ``<dest>.part``. A rerun after a crash continues from
its size with ``Range: bytes=<size>-``; the final name appears (atomic rename)
only once the md5 matches, so a half or corrupt file never sits where later
stages look. A mismatch deletes the partial and starts again from zero.

Bounds on what a server can make us do:

* with an expected ``size``, no more than ``size`` bytes are ever written: a body
  that runs past it (or a ``Content-Length`` that announces more) stops the
  transfer, the partial is kept at most ``size`` bytes long, and the download
  fails with BodyTooLarge (not retried: the same server would do it again);
* an overall ``deadline_s`` per file, all attempts and waits together (default
  ``default_deadline(size)``: 6 hours, or the time the file takes at 100 kB/s if
  that is longer; 24 hours when the size is unknown); it is checked after every
  chunk and before every attempt and backoff wait, so it is noticed within one
  read timeout (``RetryPolicy.timeout``). Past it the download fails with
  DeadlineExceeded (not retried) and the partial is kept for a later resume.
  Without an expected size, a body sent with no Content-Length is bounded by this
  deadline alone;
* an unknown size (None, 0, NaN or "" — the GDC omits ``file_size`` at times) is
  no error: the file is fetched and verified by its md5 alone.

Every DownloadError says what became of the partial file: kept (and from which
byte a rerun resumes) or deleted (and why).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from tqdm import tqdm

from pathfm.io import md5_file
from pathfm.sources.http import (
    DEFAULT_POLICY,
    DeadlineExceeded,
    RemoteError,
    RetryPolicy,
    TransientError,
    get_following_redirects,
    raise_for_retry,
    with_retries,
)

log = logging.getLogger(__name__)
_CHUNK = 1 << 20
DEADLINE_FLOOR_S = 6 * 3600.0  # the least time a file of known size is given, however small
DEADLINE_MIN_RATE = 100_000  # bytes/s: a larger file gets size / this rate instead
DEADLINE_UNKNOWN_SIZE_S = 24 * 3600.0


class DownloadError(RuntimeError):
    """A file that could not be fetched and verified; nothing was left under its final name."""


class ChecksumMismatch(TransientError):
    """The bytes arrived but their md5 is wrong: the partial is discarded and fetched again."""


class BodyTooLarge(RemoteError):
    """The server sent (or announced) more bytes than the expected size; not retried."""


def default_deadline(size: int | None) -> float:
    """Seconds one file may take, all attempts together: 6 h, or size at 100 kB/s if longer;
    24 h when the size is unknown."""
    if not size:
        return DEADLINE_UNKNOWN_SIZE_S
    return max(DEADLINE_FLOOR_S, size / DEADLINE_MIN_RATE)


def expected_size(size) -> int | None:
    """A manifest's size as a byte count, or None when it gives none (None, 0, NaN, "")."""
    if size is None or isinstance(size, bool):
        return None
    if isinstance(size, str):
        size = size.strip()
        if size.lower() in ("", "nan", "none", "null", "na", "<na>"):
            return None
    try:
        value = float(size)
    except (TypeError, ValueError):
        raise ValueError(f"expected size {size!r} is not a byte count") from None
    if math.isnan(value) or value <= 0:
        return None
    if not value.is_integer() or math.isinf(value):
        raise ValueError(f"expected size {size!r} is not a whole number of bytes")
    return int(value)


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


def download_record(result: DownloadResult) -> dict:
    """What a verified download leaves on record beside the file: the outcome, not the
    transfer rate or wall time (those are logged), so a rerun writes the same record."""
    record = asdict(result)
    record.pop("seconds")
    record["path"] = str(result.path)
    return record


def add_deadline_option(ap) -> None:
    """``--deadline-hours`` of the commands that download (the ``downloads`` config)."""
    ap.add_argument("--deadline-hours", type=float, default=None,
                    help="overall time per file, all attempts together (default: 6 h, or the "
                         "time the file takes at 100 kB/s when longer)")


def deadline_seconds(hours: float | None) -> float | None:
    return None if hours is None else hours * 3600.0


def part_path(dest: str | Path) -> Path:
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def download_file(
    url: str,
    dest: str | Path,
    *,
    md5: str | None,
    size: int | float | str | None = None,
    token: str | None = None,
    token_header: str = "X-Auth-Token",
    policy: RetryPolicy = DEFAULT_POLICY,
    session: requests.Session | None = None,
    chunk_size: int = _CHUNK,
    progress: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    deadline_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> DownloadResult:
    """Fetch ``url`` to ``dest``, resuming ``dest.part``; verify ``md5`` (and ``size`` if given).

    ``size`` None, 0, NaN or "" means unknown: the md5 alone decides. ``deadline_s``
    bounds the whole call (all attempts and backoff waits; default
    ``default_deadline(size)``; ``math.inf`` for none). ``token`` is sent as
    ``token_header`` to the original host only; it is never logged, stored or put
    in an exception message.
    """
    dest = Path(dest)
    # md5=None only for sources that publish no checksum; the caller then verifies
    # (or records) the digest itself — see datasets.fetch.
    md5 = md5.lower() if md5 else None
    size = expected_size(size)
    if deadline_s is None:
        deadline_s = default_deadline(size)
    if not deadline_s > 0:
        raise ValueError(f"deadline_s must be positive, got {deadline_s}")
    result = DownloadResult(path=dest, md5=md5 or "", size=size or 0)
    t0 = time.perf_counter()
    if dest.is_file() and md5 and (size is None or dest.stat().st_size == size) and md5_file(dest) == md5:
        result.skipped, result.size = True, dest.stat().st_size
        log.info("%s already present and verified", dest)
        return result
    if size is None:
        log.info("%s: no expected size given; the md5 alone verifies it", dest.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    session = session or requests.Session()
    secret = {token_header: token} if token else {}
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=dest.name, disable=not progress, mininterval=5)
    deadline = clock() + deadline_s
    limits = _Limits(deadline, deadline_s, clock)

    def attempt(n: int) -> None:
        result.attempts = n
        _one_attempt(url, part, md5, size, session, secret, policy, chunk_size, result, bar, limits)

    try:
        with_retries(attempt, policy, f"download {dest.name}", sleep=sleep, deadline=deadline, clock=clock)
    except RemoteError as err:
        raise DownloadError(f"{_redact(url)} -> {dest}: {err}; {_partial_fate(part, size, result)}") from None
    finally:
        bar.close()
    os.replace(part, dest)
    result.size = dest.stat().st_size
    result.seconds = time.perf_counter() - t0
    log.info("%s: %d bytes verified (transferred %d in %d attempt(s), %.1fs)",
             dest, result.size, result.bytes_transferred, result.attempts, result.seconds)
    return result


@dataclass(frozen=True)
class _Limits:
    deadline: float  # clock() instant
    deadline_s: float
    clock: Callable[[], float]

    def check(self, where: str) -> None:
        if self.clock() >= self.deadline:
            raise DeadlineExceeded(f"overall deadline of {self.deadline_s:g}s passed {where} "
                                   "(a larger deadline_s allows more)")


def _partial_fate(part: Path, size: int | None, result: DownloadResult) -> str:
    """What a failed download left behind, in words, for the error message."""
    if part.exists():
        got = part.stat().st_size
        if size is not None and got == size:
            return f"the partial file {part.name} ({got} bytes, full length) is kept; a rerun only verifies it"
        return f"the partial file {part.name} ({got} bytes) is kept; a rerun resumes from byte {got}"
    if result.checksum_failures:
        return (f"no partial file is kept: {part.name} failed the md5 check and was deleted "
                "(a rerun starts from byte 0)")
    return f"no partial file was written ({part.name} absent; a rerun starts from byte 0)"


def _one_attempt(url, part: Path, md5, size, session, secret, policy, chunk_size, result, bar,
                 limits: _Limits) -> None:
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
        resumed = bool(offset) and response.status_code == 206
        if resumed:
            start = _content_range_start(response.headers.get("Content-Range"))
            if start != offset:
                raise TransientError(f"server answered range start {start}, asked {offset}")
        else:
            # 200 to a ranged request means the server ignored Range: start over.
            offset = 0
        announced = _int_or_none(response.headers.get("Content-Length"))
        if size is not None and announced is not None and offset + announced > size:
            # Refused before a byte is written: the partial stays as it was.
            raise BodyTooLarge(f"server announced {announced} bytes from byte {offset}, "
                               f"past the expected size {size}; nothing read")
        if resumed:
            result.resumed_from.append(offset)
            mode = "ab"
            log.info("%s: resuming from byte %d", part.name, offset)
        else:
            mode, digest = "wb", hashlib.md5()
        bar.reset(total=size)
        bar.update(offset)
        overflow = 0
        with open(part, mode) as f:
            # read1 hands over whatever has arrived, so bytes received before a dropped
            # connection reach the partial file (iter_content would lose its buffer).
            pos = offset
            try:
                while chunk := response.raw.read1(chunk_size):
                    result.bytes_transferred += len(chunk)
                    if size is not None and pos + len(chunk) > size:
                        # Keep the bytes up to the expected size, drop the rest, stop reading.
                        overflow = pos + len(chunk) - size
                        chunk = chunk[:size - pos]
                    f.write(chunk)
                    digest.update(chunk)
                    pos += len(chunk)
                    bar.update(len(chunk))
                    if overflow:
                        break
                    limits.check(f"at byte {pos}" + (f" of {size}" if size is not None else ""))
            finally:
                f.flush()
                os.fsync(f.fileno())
        if overflow:
            response.close()  # do not drain the rest of an endless body
            with open(part, "r+b") as f:  # never longer than expected, whatever happened above
                f.truncate(size)
            raise BodyTooLarge(f"server sent more than the expected {size} bytes (at least {overflow} "
                               f"past the end; stopped reading); the partial is cut back to {size} bytes")
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
    raise ChecksumMismatch(f"{part.name}: {why}; partial deleted (any next attempt starts from byte 0)")


def _hash_into(path: Path, digest) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


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
