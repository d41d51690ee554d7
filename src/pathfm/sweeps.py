"""Ablation sweeps (config ``sweeps``) as derived training runs.

A sweep point is a base run of ``train.runs`` with overrides deep-merged over it:
first the sweep's ``common`` overrides (shared by every point, e.g. a shorter
schedule), then the point's own. Its run name depends only on (base run, the
settings that differ from the base run), never on the sweep or the label, so the
same point reached from two sweeps (the shared baseline, typically) is one
training job::

    demo-vit-s8@patching.mpps=0.5,ssl.steps=25

using only characters that a shell passes through unquoted and a file name may
hold (``@``, not ``~``, which bash may expand). A point identical to its base run is the base run itself. Names longer than
``MAX_SLUG`` characters use a hash of the same canonical settings instead.

``expert_distillation``-style sweeps name existing models (``models:``) and make
no runs. Nothing here imports snakemake; the workflow's planners
(``pathfm.workflow.models``, ``pathfm.workflow.ablation``) call it and
``pathfm.models.registry`` resolves the derived names.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping

SEP, JOIN = "@", ","
MAX_SLUG = 120
# Sections of a run whose keys are free-form (checked when the job starts), so an
# override may add keys the base run does not set.
FREE_SECTIONS = ("ssl", "multicrop")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")


def deep_merge(base: Mapping, over: Mapping) -> dict:
    """``base`` with ``over`` merged in; nested mappings merge, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def diff(spec: Mapping, base: Mapping) -> dict:
    """The settings of ``spec`` that differ from ``base`` (nested, minimal)."""
    out = {}
    for key, value in spec.items():
        if key not in base:
            out[key] = copy.deepcopy(value)
        elif isinstance(value, Mapping) and isinstance(base[key], Mapping):
            sub = diff(value, base[key])
            if sub:
                out[key] = sub
        elif value != base[key]:
            out[key] = copy.deepcopy(value)
    return out


def _flatten(d: Mapping, prefix: str = "") -> list[tuple[str, object]]:
    items = []
    for key in sorted(d):
        path = f"{prefix}{key}"
        if isinstance(d[key], Mapping) and d[key]:
            items += _flatten(d[key], path + ".")
        else:
            items.append((path, d[key]))
    return items


def _value_slug(value) -> str:
    if isinstance(value, list | tuple):
        return "+".join(_value_slug(v) for v in value)
    text = json.dumps(value, sort_keys=True)
    return _UNSAFE.sub("-", text.strip('"'))


def derived_name(base: str, changes: Mapping) -> str:
    """Deterministic run name of ``base`` with ``changes`` (its :func:`diff` from the base)."""
    if not changes:
        return base
    slug = JOIN.join(f"{path}={_value_slug(v)}" for path, v in _flatten(changes))
    if len(slug) > MAX_SLUG:
        canonical = json.dumps(changes, sort_keys=True, separators=(",", ":"))
        slug = "h" + hashlib.sha1(canonical.encode()).hexdigest()[:12]
    return f"{base}{SEP}{slug}"


def _check_keys(over: Mapping, base: Mapping, where: str, path: str = "") -> None:
    for key, value in over.items():
        if key not in base and path.split(".")[0] not in FREE_SECTIONS:
            raise ValueError(f"config {where}: {path}{key!r} is not a setting of the base run")
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            _check_keys(value, base[key], where, f"{path}{key}.")
    if "model" in over:
        raise ValueError(f"config {where}: a sweep point cannot change the architecture "
                         f"('model'); sweep over a different base run instead")


def _axis_settings(sweeps: Mapping, runs: Mapping, axis: str) -> tuple[str, dict]:
    spec = sweeps["axes"][axis]
    base = spec.get("base") or sweeps.get("base")
    if base not in runs:
        raise ValueError(f"config sweeps.axes.{axis}.base (or sweeps.base): {base!r} is not a "
                         f"run of train.runs {sorted(runs)}; a config replacing train.runs "
                         f"must set its own sweeps (or sweeps: {{axes: {{}}}})")
    common = deep_merge(sweeps.get("common") or {}, spec.get("common") or {})
    return base, common


def sweep_runs(sweeps: Mapping, runs: Mapping) -> dict[str, dict[str, str]]:
    """``{axis: {label: run name}}`` for the training sweeps (those with ``values``)."""
    out = {}
    for axis, spec in (sweeps.get("axes") or {}).items():
        if spec.get("models") is not None:
            continue
        base, common = _axis_settings(sweeps, runs, axis)
        points = {}
        for label, over in (spec.get("values") or {}).items():
            where = f"sweeps.axes.{axis}.values.{label}"
            merged_over = deep_merge(common, over or {})
            _check_keys(merged_over, runs[base], where)
            points[str(label)] = derived_name(base, diff(deep_merge(runs[base], merged_over),
                                                         runs[base]))
        out[axis] = points
    return out


def derived_runs(sweeps: Mapping, runs: Mapping) -> dict[str, dict]:
    """Specs of every sweep run not already in ``runs``, by name (each once)."""
    out = {}
    for axis, spec in (sweeps.get("axes") or {}).items():
        if spec.get("models") is not None:
            continue
        base, common = _axis_settings(sweeps, runs, axis)
        for over in (spec.get("values") or {}).values():
            merged = deep_merge(runs[base], deep_merge(common, over or {}))
            name = derived_name(base, diff(merged, runs[base]))
            if name not in runs:
                out[name] = merged
    return out


def with_sweep_runs(runs: Mapping, sweeps: Mapping | None) -> dict[str, dict]:
    """``train.runs`` plus the runs the sweeps derive from them."""
    runs = dict(runs)
    if sweeps:
        runs.update(derived_runs(sweeps, runs))
    return runs


def sweep_models(sweeps: Mapping, runs: Mapping, axis: str) -> dict[str, str]:
    """``{value label: model name}`` of one sweep in config order; {} when it is absent."""
    spec = (sweeps.get("axes") or {}).get(axis)
    if not spec:
        return {}
    if spec.get("models") is not None:
        return {str(k): v for k, v in spec["models"].items()}
    return sweep_runs(sweeps, runs)[axis]
