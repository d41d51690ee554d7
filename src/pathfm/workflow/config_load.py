"""A config file as the workflow sees it, for commands that plan outside Snakemake
(coverage, preflight): the same schema check, defaults and cross-key checks as
``workflow/rules/common.smk``."""

from __future__ import annotations

from pathlib import Path

import yaml

from pathfm.config_defaults import fill_defaults
from pathfm.workflow.validate import check_schema, validate_config


def load_config(config_file: str | Path, basedir: str | Path) -> dict:
    """``config_file`` (YAML or JSON) validated and filled; ``basedir`` is the repository
    root, where ``workflow/schemas`` lives."""
    config_file = Path(config_file)
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file}: no such config file")
    config = yaml.safe_load(config_file.read_text()) or {}
    schemas = Path(basedir) / "workflow" / "schemas"
    check_schema(config, schemas / "config.schema.yaml")
    fill_defaults(config, yaml.safe_load((schemas / "config.schema.yaml").read_text()), schemas)
    validate_config(config)
    return config
