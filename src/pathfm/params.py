"""Parameter dataclasses built from config dicts, with unknown keys named in the error."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def from_dict(cls: type[T], values: dict[str, Any], what: str) -> T:
    """``cls(**values)``, but a typo'd key raises ValueError naming it and the known keys."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {what} parameter(s) {unknown}; known: {sorted(known)}")
    return cls(**values)
