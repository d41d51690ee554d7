"""Shared plumbing for the step scripts in ``scripts/`` (logging, JSON arguments)."""

from __future__ import annotations

import json
import logging
import sys


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr with timestamps; Snakemake rules redirect it into ``{log}``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def json_object(text: str) -> dict:
    """argparse type for a JSON object given on the command line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc}): {text[:200]}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def id_path_pairs(items: list[str], flag: str) -> dict[str, str]:
    """``["ID=PATH", …]`` from a repeated CLI option → ``{ID: PATH}``; a malformed item exits."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"{flag}: expected SLIDE_ID=PATH, got {item!r}")
        out[key] = value
    return out
