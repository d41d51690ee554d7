"""Fill a validated config with every default its JSON schema declares, at any depth.

Snakemake's ``validate(set_default=True)`` sets a missing section to its default
(``{}``) but does not descend into that new object, so keys inside it stay unset
and the workflow fails later with a bare KeyError. This walks the schema (``$ref``s
to other schema files and JSON pointers into them, ``file.yaml#/$defs/x`` or
``#/$defs/x``, included) and fills what is still missing.

It descends through ``properties`` and ``additionalProperties`` only, never into
``allOf`` / ``anyOf`` / ``oneOf`` / ``if`` branches. A node marked
``x-fill-defaults: false`` gets its own default (``{}``) when absent but nothing inside
it is filled: its keys' defaults document a job's own defaults, which the job resolves
(``train.runs.{run}.ssl``, a distillation run config, a synthetic cohort's ``synth``),
or it holds overrides merged over settings given elsewhere (a sweep's ``common`` and
``values``), where a filled default would override the base.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

NO_FILL = "x-fill-defaults"


class _Doc:
    """A schema node with the file it lives in (for relative refs and ``#`` pointers)."""

    def __init__(self, node: dict, base: Path, root: dict):
        self.node, self.base, self.root = node, base, root


def _pointer(root: dict, fragment: str) -> dict:
    node: Any = root
    for part in filter(None, fragment.lstrip("/").split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _resolve(doc: _Doc) -> _Doc:
    """Follow ``$ref`` (repeatedly) to the node it names."""
    seen = 0
    while isinstance(doc.node, dict) and doc.node.get("$ref"):
        file, _, fragment = doc.node["$ref"].partition("#")
        if file:
            path = (doc.base / file).resolve()
            root, base = yaml.safe_load(path.read_text()), path.parent
        else:
            root, base = doc.root, doc.base
        doc = _Doc(_pointer(root, fragment), base, root)
        seen += 1
        if seen > 32:
            raise ValueError(f"$ref cycle at {doc.node!r}")
    return doc


def _fill(instance: Any, doc: _Doc) -> None:
    if not isinstance(instance, dict) or not isinstance(doc.node, dict):
        return
    if doc.node.get(NO_FILL) is False:
        return
    doc = _resolve(doc)
    if doc.node.get(NO_FILL) is False:
        return
    props = doc.node.get("properties", {})
    for name, sub in props.items():
        sub_doc = _Doc(sub, doc.base, doc.root)
        if name not in instance:
            holder = sub if isinstance(sub, dict) and "default" in sub else _resolve(sub_doc).node
            if not isinstance(holder, dict) or "default" not in holder:
                continue
            instance[name] = copy.deepcopy(holder["default"])  # null is a real default
        _fill(instance[name], sub_doc)
    extra = doc.node.get("additionalProperties")
    if isinstance(extra, dict):
        for name, value in instance.items():
            if name not in props:
                _fill(value, _Doc(extra, doc.base, doc.root))


def fill_defaults(instance: Any, schema: dict, base: str | Path) -> None:
    """Set ``default`` values for absent properties of ``instance``, recursively, in place.

    ``schema`` is the loaded schema document; ``base`` the folder its relative ``$ref``
    files are in.
    """
    _fill(instance, _Doc(schema, Path(base), schema))
