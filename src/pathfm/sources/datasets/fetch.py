"""Fetch a dataset's files (URLs + checksums kept as data in each dataset module) and verify them.

A resource whose publisher gives an md5 is checked against it. One without a
published checksum is recorded in ``<root>/CHECKSUMS.json`` (trust on first use,
with a warning) once it has been unpacked (and, for PCam, its content verified),
and checked against that record afterwards, so a silently changed upstream file is
noticed. ``<root>/.<filename>.ok`` marks a resource done; it holds the checksum it
was verified against and counts only while that still is the expected one.

Archives are treated as hostile input:

* an archive with a known checksum (published, or recorded earlier) is verified
  before it is opened (``download_file`` renames it into place only when its md5
  matches); a ``.gz`` whose published md5 is of the unpacked file (PCam,
  ``md5_of="extracted"``) is gunzipped into a staging file and checked there;
* members are unpacked into a staging folder ``<root>/.<archive>.unpack.part`` and
  moved into ``root`` only when every member is out (and verified);
* a member is refused when it is absolute, climbs out with ``..``, repeats an earlier
  member, would land on the fetcher's bookkeeping (``CHECKSUMS.json``, ``.*.ok``
  markers, ``*.part`` / ``*.partial`` names, at any depth, any letter case) or on
  another resource of the same fetch;
* the expanded size (counted while decompressing, not taken from the headers) is
  capped at ``max_unpacked_bytes`` per archive and the member count at
  ``max_members``.

A refused or failed unpack leaves nothing of the archive in ``root``; the archive
itself is kept when it matched a checksum known in advance (a rerun with a larger
cap need not download it again) and deleted when it did not.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import zipfile
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pathfm.io import write_json_atomic
from pathfm.manifest import check_file_name
from pathfm.sources.download import DownloadError, download_file
from pathfm.sources.http import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger(__name__)

LOCK_NAME = "CHECKSUMS.json"
MARKER_SUFFIX = ".ok"
STAGING_SUFFIX = ".unpack.part"
# Per archive. The largest real ones: NCT-CRC-HE-100K (~12 GB zip, 100,000 tiles) and
# PCam's train_x.h5 (~7.5 GB unpacked); both fit with room to spare.
DEFAULT_MAX_UNPACKED_BYTES = 32 << 30
DEFAULT_MAX_MEMBERS = 1_000_000
_CHUNK = 1 << 20


class DatasetError(RuntimeError):
    """A dataset that is missing, incomplete or does not match its checksums."""


@dataclass(frozen=True)
class Resource:
    filename: str
    url: str
    md5: str | None = None
    archive: str | None = None  # "zip" | "gz" | None
    md5_of: str = "download"  # or "extracted" (the gunzipped file)
    download_md5: str | None = None  # with md5_of="extracted": the md5 of the .gz itself, if published


def _unpacked_name(res: Resource) -> str:
    return res.filename[:-3] if res.archive == "gz" else res.filename


def marker_path(root: Path, filename: str) -> Path:
    return root / f".{filename}{MARKER_SUFFIX}"


def staging_path(root: Path, name: str) -> Path:
    return root / f".{name}{STAGING_SUFFIX}"


def bookkeeping_clash(name: str) -> str | None:
    """Why ``name`` (one path component) may not come out of an archive, or None."""
    n = name.casefold()
    if n == LOCK_NAME.casefold():
        return f"it is the checksum lock {LOCK_NAME}"
    if n.startswith(".") and n.endswith(MARKER_SUFFIX):
        return "it has the form of a verified marker (.<name>.ok)"
    if n.endswith((".part", ".partial")):
        return "it has the form of a partial download or staging name (*.part)"
    return None


def fetch_resources(resources: Sequence[Resource], root: str | Path, *, policy: RetryPolicy = DEFAULT_POLICY,
                    url_prefix: str | None = None, keep_archives: bool = False,
                    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES, max_members: int = DEFAULT_MAX_MEMBERS,
                    deadline_s: float | None = None) -> list[Path]:
    """Download, verify and unpack ``resources`` into ``root``; skip those already verified.

    ``max_unpacked_bytes`` / ``max_members`` bound each archive; ``deadline_s`` bounds
    each download (see ``download_file``).
    """
    if max_unpacked_bytes <= 0 or max_members <= 0:
        raise ValueError("max_unpacked_bytes and max_members must be positive")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    lock_path = root / LOCK_NAME
    lock = json.loads(lock_path.read_text()) if lock_path.exists() else {}
    # Names an archive must not put at the top of root: the other resources and their outputs.
    resource_names = {n for r in resources for n in (r.filename, _unpacked_name(r))}
    done = []
    for res in resources:
        check_file_name(res.filename, "dataset resource")
        if res.archive not in (None, "zip", "gz"):
            raise ValueError(f"{res.filename}: unknown archive kind {res.archive!r}; expected 'zip', 'gz' or None")
        if res.md5_of not in ("download", "extracted") or (res.md5_of == "extracted" and res.archive != "gz"):
            raise ValueError(f"{res.filename}: md5_of={res.md5_of!r} needs archive='gz'")
        url = f"{url_prefix.rstrip('/')}/{res.filename}" if url_prefix else res.url
        out = root if res.archive == "zip" else root / _unpacked_name(res)
        marker = marker_path(root, res.filename)
        identity = res.md5 or lock.get(res.filename, "")
        if marker.exists():
            if identity and marker.read_text().strip() == identity and out.exists():
                done.append(out)
                continue
            log.warning("%s: marker %s does not match the expected checksum (or the file is gone); fetching again",
                        res.filename, marker.name)
            marker.unlink()
        published = res.md5 if res.md5_of == "download" else res.download_md5
        expected = (published or lock.get(res.filename) or "").lower() or None
        path = root / res.filename
        try:
            result = download_file(url, path, md5=expected, policy=policy, progress=True, deadline_s=deadline_s)
        except DownloadError as err:
            hint = ""
            if expected and not published:
                hint = (f"; its md5 was recorded in {lock_path} on first use: if the publisher changed the file "
                        "on purpose, delete that entry and run again")
            raise DatasetError(f"{res.filename}: {err}{hint}") from None
        if expected and result.md5 != expected:  # download_file guarantees it; never open an unverified file
            raise DatasetError(f"{path}: md5 {result.md5} is not the expected {expected}; deleted, run again")
        if expected is None:
            log.warning("%s: the publisher gives no checksum for the download; it is opened unverified "
                        "this first time and its md5 %s is recorded in %s once it unpacks cleanly",
                        res.filename, result.md5, lock_path)
        try:
            if res.archive == "zip":
                extract_zip(path, root, reserved=resource_names - {res.filename},
                            max_unpacked_bytes=max_unpacked_bytes, max_members=max_members)
            elif res.archive == "gz":
                gunzip(path, out, md5=res.md5 if res.md5_of == "extracted" else None,
                       max_unpacked_bytes=max_unpacked_bytes)
        except DatasetError as err:
            if expected:
                raise DatasetError(f"{err}; the archive matched its checksum and is kept at {path}") from None
            path.unlink(missing_ok=True)
            raise DatasetError(f"{err}; the archive had no checksum to check it by and was deleted") from None
        if expected is None:
            lock[res.filename] = result.md5
            write_json_atomic(lock_path, lock)
            identity = res.md5 or result.md5
        marker.write_text(identity)
        if res.archive and not keep_archives:
            path.unlink()
        done.append(out)
    return done


def _member_path(archive: Path, name: str, reserved: frozenset[str]) -> PurePosixPath | None:
    """The safe relative path of member ``name``, None for the archive root itself, or raise.

    ``reserved``: casefolded names no member may have at the top level."""
    what_to_do = ("this is not the archive the dataset publishes: check the source (or the --url-prefix "
                  "mirror), delete the file and run again")
    # Zip names use "/"; a "\\" is a separator to Windows tools, so treat it as one here too.
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or (pure.parts and pure.parts[0].endswith(":")) or ".." in pure.parts:
        raise DatasetError(f"{archive}: unsafe member {name!r} in archive (absolute, drive or '..' path); "
                           f"refusing to extract; {what_to_do}")
    for part in pure.parts:
        why = bookkeeping_clash(part)
        if why:
            raise DatasetError(f"{archive}: member {name!r} would overwrite the fetcher's bookkeeping ({why}); "
                               f"refusing to extract; {what_to_do}")
    if pure.parts and pure.parts[0].casefold() in reserved:
        raise DatasetError(f"{archive}: member {name!r} would replace {pure.parts[0]!r}, another resource of "
                           f"this dataset; refusing to extract; {what_to_do}")
    return pure if pure.parts else None


def _too_big(archive: Path, where: str, cap: int) -> DatasetError:
    return DatasetError(f"{archive}: {where}, past the limit of {cap} bytes ({cap / 2**30:.3g} GiB) per archive; "
                        "refusing to extract. A genuine archive this large needs a higher max_unpacked_bytes; "
                        "otherwise check the source")


def extract_zip(archive: str | Path, root: str | Path, *, reserved: Collection[str] = (),
                max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
                max_members: int = DEFAULT_MAX_MEMBERS) -> list[Path]:
    """Unpack ``archive`` into ``root`` through a staging folder; the top-level paths it made.

    Nothing reaches ``root`` unless every member passed the checks (see the module
    docstring) and came out whole; bytes are counted as they are decompressed.
    """
    archive, root = Path(archive), Path(root)
    reserved = frozenset(r.casefold() for r in reserved)
    staging = staging_path(root, archive.name)
    shutil.rmtree(staging, ignore_errors=True)  # a killed run's leftovers
    staging.mkdir(parents=True)
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as err:
            raise DatasetError(f"{archive}: not a readable zip archive ({err}); delete it and run again") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > max_members:
                raise DatasetError(f"{archive}: {len(infos)} members, more than the limit of {max_members}; "
                                   "refusing to extract. A genuine archive this large needs a higher "
                                   "max_members; otherwise check the source")
            seen: set[str] = set()
            for info in infos:
                rel = _member_path(archive, info.filename, reserved)
                if rel is None:
                    continue
                key = str(rel).casefold()
                if key in seen:
                    raise DatasetError(f"{archive}: member {info.filename!r} appears twice; refusing to extract "
                                       "(a later copy would silently replace the first); check the source")
                seen.add(key)
            declared = sum(i.file_size for i in infos)
            if declared > max_unpacked_bytes:
                raise _too_big(archive, f"its members declare {declared} bytes in all", max_unpacked_bytes)
            total = 0
            for info in infos:
                rel = _member_path(archive, info.filename, reserved)
                if rel is None:
                    continue
                target = staging.joinpath(*rel.parts)
                try:
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "xb") as dst:
                        while chunk := src.read(_CHUNK):
                            total += len(chunk)
                            if total > max_unpacked_bytes:
                                raise _too_big(archive, f"member {info.filename!r} takes the expanded size "
                                               f"to {total} bytes", max_unpacked_bytes)
                            dst.write(chunk)
                except DatasetError:
                    raise
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as err:
                    raise DatasetError(f"{archive}: member {info.filename!r} cannot be read ({err}); the archive "
                                       "is damaged or uses an unsupported feature; delete it and run again") from None
                except OSError as err:
                    raise DatasetError(f"{archive}: member {info.filename!r} cannot be written ({err}); "
                                       "it clashes with another member, or the disk is full") from None
        tops = sorted(staging.iterdir())
        for entry in tops:
            _move_into(entry, root / entry.name, archive)
        log.info("%s: %d members, %d bytes unpacked into %s", archive.name, len(infos), total, root)
        return [root / entry.name for entry in tops]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into(src: Path, dst: Path, archive: Path) -> None:
    """Rename ``src`` onto ``dst``; a folder that exists already gets ``src``'s entries merged in."""
    if not dst.exists() and not dst.is_symlink():
        os.replace(src, dst)
    elif src.is_dir() and dst.is_dir():
        for child in sorted(src.iterdir()):
            _move_into(child, dst / child.name, archive)
    elif src.is_file() and dst.is_file():
        os.replace(src, dst)  # an earlier unpack of the same archive
    else:
        raise DatasetError(f"{archive}: cannot place {src.name!r} at {dst}: a "
                           f"{'folder' if dst.is_dir() else 'file'} of that name is in the way; move it aside "
                           "and run again")


def gunzip(archive: str | Path, out: str | Path, *, md5: str | None = None,
           max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES) -> Path:
    """Decompress ``archive`` to ``out`` via a staging file, counting bytes as they come;
    with ``md5`` (of the unpacked bytes) ``out`` appears only when it matches."""
    archive, out = Path(archive), Path(out)
    why = bookkeeping_clash(out.name)
    if why:
        raise DatasetError(f"{archive}: would unpack to {out.name!r} ({why}); rename the resource")
    staging = staging_path(out.parent, out.name)
    digest, total = hashlib.md5(), 0
    try:
        try:
            with gzip.open(archive, "rb") as src, open(staging, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    total += len(chunk)
                    if total > max_unpacked_bytes:
                        raise _too_big(archive, f"{out.name} expands to {total} bytes and more", max_unpacked_bytes)
                    digest.update(chunk)
                    dst.write(chunk)
        except DatasetError:
            raise
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise DatasetError(f"{archive}: not a readable gzip file ({err}); delete it and run again") from None
        if md5 and digest.hexdigest() != md5.lower():
            raise DatasetError(f"{archive}: unpacked {out.name} has md5 {digest.hexdigest()}, which does not match "
                               f"the published {md5}; nothing was written to {out}; run again (if it recurs, the "
                               "source has changed)")
        os.replace(staging, out)
    finally:
        staging.unlink(missing_ok=True)
    return out


def require(root: str | Path, paths: Sequence[str], dataset: str, how: str) -> Path:
    """Check the expected layout under ``root``; raise naming what is missing and how to get it."""
    root = Path(root)
    missing = [p for p in paths if not (root / p).exists()]
    if missing:
        raise DatasetError(f"{dataset}: {root} lacks {missing}. {how}")
    return root


__all__ = ["DEFAULT_MAX_MEMBERS", "DEFAULT_MAX_UNPACKED_BYTES", "LOCK_NAME", "DatasetError", "Resource",
           "bookkeeping_clash", "extract_zip", "fetch_resources", "gunzip", "marker_path", "require",
           "staging_path"]
