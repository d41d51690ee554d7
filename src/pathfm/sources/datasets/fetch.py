"""Fetch a dataset's files (URLs + checksums kept as data in each dataset module) and verify them.

A resource whose publisher gives an md5 is checked against it. One without a
published checksum is recorded on first download in ``<root>/CHECKSUMS.json``
(trust on first use, with a warning) and checked against that record afterwards,
so a silently changed upstream file is noticed. Archives are unpacked after the
check; a ``.gz`` whose published md5 is of the unpacked file (PCam) says so with
``md5_of="extracted"``.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pathfm.io import atomic_path, md5_file, write_json_atomic
from pathfm.manifest import check_file_name
from pathfm.sources.download import download_file
from pathfm.sources.http import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger(__name__)


class DatasetError(RuntimeError):
    """A dataset that is missing, incomplete or does not match its checksums."""


@dataclass(frozen=True)
class Resource:
    filename: str
    url: str
    md5: str | None = None
    archive: str | None = None  # "zip" | "gz" | None
    md5_of: str = "download"  # or "extracted" (the gunzipped file)


def _unpacked_name(res: Resource) -> str:
    return res.filename[:-3] if res.archive == "gz" else res.filename


def fetch_resources(resources: Sequence[Resource], root: str | Path, *, policy: RetryPolicy = DEFAULT_POLICY,
                    url_prefix: str | None = None, keep_archives: bool = False) -> list[Path]:
    """Download, verify and unpack ``resources`` into ``root``; skip those already verified."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    lock_path = root / "CHECKSUMS.json"
    lock = json.loads(lock_path.read_text()) if lock_path.exists() else {}
    done = []
    for res in resources:
        check_file_name(res.filename, "dataset resource")
        url = f"{url_prefix.rstrip('/')}/{res.filename}" if url_prefix else res.url
        marker = root / f".{res.filename}.ok"
        if marker.exists():
            done.append(root / _unpacked_name(res))
            continue
        expected = res.md5 if res.md5_of == "download" else None
        expected = expected or (lock.get(res.filename) if res.md5_of == "download" else None)
        result = download_file(url, root / res.filename, md5=expected, policy=policy, progress=True)
        if res.md5_of == "download" and res.md5 is None and res.filename not in lock:
            log.warning("%s: the publisher gives no checksum; recorded md5 %s in %s", res.filename, result.md5, lock_path)
            lock[res.filename] = result.md5
            write_json_atomic(lock_path, lock)
        out = _unpack(res, root / res.filename, root, keep_archives)
        if res.md5_of == "extracted" and res.md5 and md5_file(out) != res.md5:
            out.unlink()
            raise DatasetError(f"{out}: md5 does not match the published {res.md5}; deleted, run again")
        marker.write_text(res.md5 or lock.get(res.filename, ""))
        done.append(out)
    return done


def _unpack(res: Resource, path: Path, root: Path, keep: bool) -> Path:
    if res.archive == "gz":
        out = root / _unpacked_name(res)
        with gzip.open(path, "rb") as src, atomic_path(out) as tmp, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
    elif res.archive == "zip":
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                # Zip members are remote names too: no absolute paths, no "..".
                parts = Path(member).parts
                if Path(member).is_absolute() or ".." in parts:
                    raise DatasetError(f"{path}: unsafe member {member!r} in archive; refusing to extract")
            zf.extractall(root)
        out = root
    else:
        return path
    if not keep:
        path.unlink()
    return out


def require(root: str | Path, paths: Sequence[str], dataset: str, how: str) -> Path:
    """Check the expected layout under ``root``; raise naming what is missing and how to get it."""
    root = Path(root)
    missing = [p for p in paths if not (root / p).exists()]
    if missing:
        raise DatasetError(f"{dataset}: {root} lacks {missing}. {how}")
    return root
