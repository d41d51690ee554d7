"""Config files as the workflow sees them, for commands that plan outside Snakemake
(coverage, preflight): the same merge, schema check, defaults and cross-key checks as
``snakemake --configfile A B`` followed by ``workflow/rules/common.smk``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from pathfm.config_defaults import fill_defaults
from pathfm.workflow.validate import check_schema, validate_config


def merge_config(base: dict, overlay: dict) -> dict:
    """``overlay`` into ``base`` key by key, as Snakemake merges several config files:
    mappings merge recursively, anything else replaces."""
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        else:
            base[key] = value
    return base


def load_config(config_files: str | Path | Iterable[str | Path], basedir: str | Path,
                cross_checks: bool = True) -> dict:
    """The config files (YAML or JSON; later ones override) merged, validated and
    filled; ``basedir`` is the repository root, where ``workflow/schemas`` lives."""
    files = [config_files] if isinstance(config_files, (str, Path)) else list(config_files)
    config: dict = {}
    for f in map(Path, files):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: no such config file")
        merge_config(config, yaml.safe_load(f.read_text()) or {})
    schemas = Path(basedir) / "workflow" / "schemas"
    check_schema(config, schemas / "config.schema.yaml")
    fill_defaults(config, yaml.safe_load((schemas / "config.schema.yaml").read_text()), schemas)
    if cross_checks:
        validate_config(config)
    return config
