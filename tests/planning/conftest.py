import copy
from pathlib import Path

import pytest
import yaml

from pathfm.config_defaults import fill_defaults
from pathfm.workflow.validate import check_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "workflow" / "schemas"


def resolved(config_file: str) -> dict:
    """A config as the workflow sees it: schema-validated, every default filled."""
    config = yaml.safe_load((ROOT / config_file).read_text())
    check_schema(config, SCHEMAS / "config.schema.yaml")
    fill_defaults(config, yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text()), SCHEMAS)
    return config


@pytest.fixture(scope="session")
def _demo_config():
    return resolved("config/config.yaml")


@pytest.fixture
def demo_config(_demo_config):
    return copy.deepcopy(_demo_config)
