"""Schema defaults reach every depth, including sections the config leaves out."""

from __future__ import annotations

import yaml

from pathfm.config_defaults import fill_defaults

from .conftest import REPO


def test_nested_defaults_through_refs(tmp_path):
    (tmp_path / "part.schema.yaml").write_text(yaml.safe_dump({
        "type": "object", "default": {},
        "properties": {"inner": {"type": "object", "default": {},
                                 "properties": {"k": {"default": 3}, "n": {"default": None}}}},
    }))
    schema = {"type": "object", "properties": {
        "part": {"$ref": "part.schema.yaml", "default": {}},
        "items": {"type": "object", "default": {}, "additionalProperties": {
            "type": "object", "properties": {"x": {"default": 1}}}},
    }}
    config = {"items": {"a": {}, "b": {"x": 5}}}
    fill_defaults(config, schema, tmp_path)
    assert config["part"] == {"inner": {"k": 3, "n": None}}
    assert config["items"] == {"a": {"x": 1}, "b": {"x": 5}}


def test_the_workflow_schema_fills_a_minimal_config():
    base = REPO / "workflow" / "schemas"
    config = {"cohorts": {}, "mask": {}, "tilings": {}}
    fill_defaults(config, yaml.safe_load((base / "config.schema.yaml").read_text()), base)
    assert config["mask"]["mpp"] == 2.0
    assert "datasets" in config["patch_bench"]
    assert config["plism"]["metrics"]["device"] is None
