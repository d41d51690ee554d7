"""Slide manifests: one TSV row per slide, the contract between download and every later stage.

Required columns: ``slide_id`` (unique, a safe file stem), ``path`` (where the slide
lives, relative to the working directory or absolute), ``md5``. Optional: ``mpp``
(level-0 µm/px override for slides whose files carry none), ``patient``, and any
label columns. Sources may add their own columns (GDC file id, project, …).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from pathfm.io import atomic_path

REQUIRED_COLUMNS = ("slide_id", "path", "md5")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


class ManifestError(ValueError):
    """A manifest that later stages cannot trust."""


def check_file_name(name: object, source: str | Path = "<manifest>") -> str:
    """Return ``name`` if it is a plain file name; raise ManifestError otherwise.

    File names come from remote APIs (the GDC ``file_name`` field, a hub listing)
    and are later joined onto a download folder: a ``../`` or an absolute path
    would write outside it, so only a single safe path component is accepted.
    """
    text = "" if name is None else str(name)
    problem = None
    if not text or text in (".", ".."):
        problem = "is empty or a dot name"
    elif "/" in text or "\\" in text:
        problem = "contains a path separator"
    elif text.startswith("~") or re.match(r"^[A-Za-z]:", text):
        problem = "looks like an absolute or home path"
    elif any(ord(c) < 32 for c in text) or "\x7f" in text:
        problem = "contains control characters"
    elif not _SAFE_ID.match(text):
        problem = "is not a plain file name (letters, digits, . _ -)"
    if problem:
        raise ManifestError(f"{source}: unsafe file name {text!r}: it {problem}; refusing to use it as a path")
    return text


def validate_manifest(df: pd.DataFrame, source: str | Path = "<manifest>") -> pd.DataFrame:
    """Check a manifest and return it with typed columns; raise ManifestError naming the problem."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ManifestError(f"{source}: missing column(s) {missing}; required: {list(REQUIRED_COLUMNS)}")
    ids = df["slide_id"].astype(str)
    bad = [s for s in ids if not _SAFE_ID.match(s)]
    if bad:
        raise ManifestError(
            f"{source}: slide_id values must be plain file stems (letters, digits, . _ -), got {bad[:5]}"
        )
    if "file_name" in df.columns:
        for name in df["file_name"].tolist():
            check_file_name(name, source)
    dup = ids[ids.duplicated()].unique().tolist()
    if dup:
        raise ManifestError(f"{source}: duplicate slide_id values {dup[:5]}; each slide must appear once")
    md5 = df["md5"].fillna("").astype(str).str.lower()
    no_md5 = ids[~md5.str.match(_MD5)].tolist()
    if no_md5:
        raise ManifestError(f"{source}: missing or malformed md5 for slide(s) {no_md5[:5]}")
    out = df.copy()
    out["slide_id"] = ids
    out["md5"] = md5
    if "mpp" in out.columns:
        out["mpp"] = pd.to_numeric(out["mpp"], errors="raise")
    return out


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a manifest TSV."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    df = pd.read_csv(path, sep="\t", dtype={"slide_id": str, "md5": str, "patient": str}, keep_default_na=True)
    return validate_manifest(df, path)


def write_manifest(df: pd.DataFrame, path: str | Path) -> None:
    """Validate, then write the manifest atomically."""
    df = validate_manifest(df, path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False)


def mpp_override(row: pd.Series) -> float | None:
    """The manifest's mpp for this slide, or None when the column is absent or empty."""
    value = row.get("mpp")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def slide_record(manifest_path: str | Path, slide_id: str) -> pd.Series:
    """The manifest row of one slide; a clear error when the slide is not listed."""
    df = read_manifest(manifest_path)
    rows = df[df["slide_id"] == slide_id]
    if rows.empty:
        raise ManifestError(f"{manifest_path}: no slide with slide_id {slide_id!r}")
    return rows.iloc[0]


def rebase_paths(df: pd.DataFrame, slides_root: str | Path, cohort: str) -> pd.DataFrame:
    """Point every slide at ``{slides_root}/{cohort}/{slide_id}.svs``, where the workflow keeps it."""
    out = df.copy()
    out["path"] = [str(Path(slides_root) / cohort / f"{s}.svs") for s in out["slide_id"]]
    return out
