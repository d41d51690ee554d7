"""Outputs appear atomically: written under a temporary name, renamed when complete.

An interrupted job then never leaves a plausible-looking half file under the
name Snakemake (or a person) would trust.

Temporary names are ``.{name}.{host}-{pid}-{random}.part`` beside the output,
with a ``.lock`` file of the same stem. While a writer runs it holds an
exclusive ``flock`` on that lock file; the kernel drops it when the process
dies, SIGKILL included. A writer that starts therefore first removes the
leftovers of *its own output* whose lock nobody holds any more (earlier runs of
the same step that were killed), and of the mkstemp-named writer before it.
It leaves alone the temporaries of other outputs (their names differ) and
those of a live writer of the same output (its lock is held). Where the
filesystem offers no ``flock``, only leftovers of dead processes of this host
are removed.

Files come out ``0666 & ~umask`` and folders ``0777 & ~umask``, like ``open``
and ``mkdir`` make them (``mkstemp``/``mkdtemp`` would make them private).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms pathfm runs on
    fcntl = None

log = logging.getLogger(__name__)

_TOKEN = r"(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)-(?P<rand>[0-9a-f]{8})"
# Names the earlier mkstemp/mkdtemp-based writer left: 8 random [a-z0-9_] characters.
_LEGACY_RAND = r"[a-z0-9_]{8}"
_LIVE: set[str] = set()  # tokens of this process's writers that are still open


def _host() -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0])[:40]
    return name or "host"


def _new_token() -> str:
    return f"{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def _sibling(path: Path, token: str, kind: str) -> Path:
    return path.with_name(f".{path.name}.{token}.{kind}")


def _lock(fd: int) -> bool | None:
    """Take an exclusive flock without waiting: True, False (held elsewhere), None (no flock)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return False
        return None  # ENOLCK, EINVAL, ENOTSUP, ...: this filesystem has no usable flock
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _is_stale(token: str, host: str, pid: int, lock: Path) -> bool:
    """Whether the writer that owns ``token`` is gone (conservative: unsure means no)."""
    if token in _LIVE:
        return False
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        # Writers create the lock first and remove it last: temporaries without one
        # are debris (or were just renamed into place, and are gone anyway).
        return not (host == _host() and pid != os.getpid() and _pid_alive(pid))
    except OSError:
        got = None  # e.g. another user's file: fall back to the pid
    else:
        try:
            got = _lock(fd)
        finally:
            os.close(fd)
    if got is not None:
        return got
    return host == _host() and not _pid_alive(pid)


def remove_stale_parts(path: str | Path) -> list[Path]:
    """Remove leftovers of earlier, dead writers of ``path``; return what was removed.

    Only names made for ``path`` itself are considered: ``.{name}.<token>.part``,
    ``.lock`` and ``.old`` (and the ``.{name}.XXXXXXXX.part`` / ``.{name}.old`` of
    the earlier writer), never another output's temporaries.
    """
    path = Path(path)
    prefix = f".{path.name}."
    pattern = re.compile(re.escape(prefix)
                         + rf"(?:{_TOKEN}\.(?P<kind>part|lock|old)|{_LEGACY_RAND}\.part|old)")
    by_token: dict[str, tuple[str, int, dict[str, Path]]] = {}
    legacy: list[Path] = []
    try:
        with os.scandir(path.parent) as it:
            names = [e.name for e in it if e.name.startswith(prefix)]
    except FileNotFoundError:
        return []
    for name in names:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        if m["kind"] is None:
            legacy.append(path.parent / name)
            continue
        token = f"{m['host']}-{m['pid']}-{m['rand']}"
        entry = by_token.setdefault(token, (m["host"], int(m["pid"]), {}))
        entry[2][m["kind"]] = path.parent / name
    removed = []
    for token, (host, pid, entries) in by_token.items():
        if not _is_stale(token, host, pid, _sibling(path, token, "lock")):
            continue
        for kind in ("part", "old", "lock"):  # the lock last: it marks the rest as dead
            if kind in entries:
                _remove(entries[kind])
                removed.append(entries[kind])
    for p in legacy:
        _remove(p)
        removed.append(p)
    if removed:
        log.info("removed %d leftover(s) of interrupted writes of %s: %s", len(removed), path,
                 ", ".join(p.name for p in removed))
    return removed


@contextlib.contextmanager
def _claim(path: Path) -> Iterator[str]:
    """Clear old leftovers, then create and flock a new ``.{name}.<token>.lock``; yield the token.

    The lock file (not the temporary itself) carries the flock, so that a caller
    opening and closing the temporary cannot drop it (NFS emulates flock with
    POSIX locks, which any close by the process releases).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    while True:
        token = _new_token()
        lock = _sibling(path, token, "lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    _LIVE.add(token)
    try:
        _lock(fd)
        yield token
    finally:
        lock.unlink(missing_ok=True)  # before closing: the lock is held until it is gone
        _LIVE.discard(token)
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    with _claim(path) as token:
        tmp = _sibling(path, token, "part")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            yield tmp
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; it replaces ``path`` on success.

    Used for zarr stores and per-slide output folders. An existing ``path`` is
    removed only after the new one is complete.
    """
    path = Path(path)
    with _claim(path) as token:
        tmp = _sibling(path, token, "part")
        try:
            os.mkdir(tmp, 0o777)
            yield tmp
            if path.exists() or path.is_symlink():
                old = _sibling(path, token, "old")
                os.replace(path, old)
                os.replace(tmp, path)
                _remove(old)
            else:
                os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
