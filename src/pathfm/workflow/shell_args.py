"""How planners write values into rules: JSON arguments and wildcard constraints."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable


def as_json(obj) -> str:
    """A compact, key-sorted JSON argument (stable, so params do not change between runs)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def wildcard_choice(names: Iterable[str]) -> str:
    """Regex matching exactly these names (or nothing), to keep rules of different sources apart."""
    names = list(names)
    return "|".join(map(re.escape, names)) if names else "(?!x)x"
