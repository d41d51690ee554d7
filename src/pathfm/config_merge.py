"""Deep merge of configs, and its checked variant for run configs with defaults.

``deep_merge(base, over)``: nested mappings merge, anything else (lists, scalars,
``None``) replaces; the result is a new dict and neither input is changed. It is
the one implementation, ``pathfm.sweeps.deep_merge``, re-exported here so that
modules outside sweeps (``pathfm.train.ssl``, ``pathfm.train.distill_config``)
need not depend on sweeps by name.

``merge_known(config, defaults, what)``: ``defaults`` with ``config`` merged in,
where every key of ``config`` must exist in ``defaults`` (at every depth at which
both sides are mappings); an unknown key raises ``KeyError`` naming its full path,
e.g. ``unknown SSL config key 'optim.lrr'; known: [...]``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pathfm.sweeps import deep_merge

__all__ = ["check_known_keys", "deep_merge", "merge_known"]


def check_known_keys(config: Mapping | None, defaults: Mapping, what: str, where: str = "") -> None:
    """Raise ``KeyError`` for the first key of ``config`` (depth first) not in ``defaults``.

    Recurses exactly where ``deep_merge`` merges (both values mappings); a mapping
    given where the default is a scalar replaces it unchecked, as it does in the merge.
    """
    for key, value in (config or {}).items():
        if key not in defaults:
            raise KeyError(f"unknown {what} key {where + key!r}; known: {sorted(defaults)}")
        if isinstance(value, Mapping) and isinstance(defaults[key], Mapping):
            check_known_keys(value, defaults[key], what, f"{where}{key}.")


def merge_known(config: Mapping | None, defaults: Mapping, what: str, where: str = "") -> dict:
    """``defaults`` deep-merged with ``config`` (``None``: no overrides); unknown keys raise.

    ``what`` names the config in the error ("SSL config"), ``where`` prefixes the
    key path ("experts[0].").
    """
    check_known_keys(config, defaults, what, where)
    return deep_merge(defaults, config or {})
