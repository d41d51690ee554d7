"""Fill a validated config with every default its JSON schema declares, at any depth.

Snakemake's ``validate(set_default=True)`` sets a missing section to its default
(``{}``) but does not descend into that new object, so keys inside it stay unset
and the workflow fails later with a bare KeyError. This walks the schema (local
``$ref`` files included) and fills what is still missing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml


def _resolve(schema: dict, base: Path) -> tuple[dict, Path]:
    ref = schema.get("$ref")
    if not ref or ref.startswith("#"):
        return schema, base
    path = (base / ref).resolve()
    return yaml.safe_load(path.read_text()), path.parent


def fill_defaults(instance: Any, schema: dict, base: str | Path) -> None:
    """Set ``default`` values for absent properties of ``instance``, recursively, in place."""
    schema, base = _resolve(schema, Path(base))
    if not isinstance(instance, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        sub_resolved, sub_base = _resolve(sub, base)
        if name not in instance:
            holder = sub if "default" in sub else sub_resolved
            if "default" not in holder:
                continue
            instance[name] = copy.deepcopy(holder["default"])  # null is a real default
        fill_defaults(instance[name], sub_resolved, sub_base)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        extra_resolved, extra_base = _resolve(extra, base)
        for name, value in instance.items():
            if name not in schema.get("properties", {}):
                fill_defaults(value, extra_resolved, extra_base)
