"""File digests for manifests (md5, as the GDC publishes) and weights provenance (sha256)."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 8 * 1024 * 1024


def _digest(path: str | Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def md5_file(path: str | Path) -> str:
    return _digest(path, "md5")


def sha256_file(path: str | Path) -> str:
    return _digest(path, "sha256")
