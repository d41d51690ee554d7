"""Hub weights -> registry safetensors: prefixes stripped, checked against the architecture."""

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from pathfm.embed.hub_weights import export_hub_weights
from pathfm.models.registry import WeightsSpec, get_entry


def _hub_entry(fmt):
    entry = get_entry("demo-vit-s8-random")
    return dataclasses.replace(entry, weights=WeightsSpec(source="hub", hub_id="x/y", hub_format=fmt, path="p"))


def test_torch_checkpoint_with_prefix_is_exported(tmp_path):
    entry = _hub_entry("torch")
    state = entry.build().state_dict()
    snap = tmp_path / "snap"
    snap.mkdir()
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}}, snap / "ckpt.pth")
    out = export_hub_weights(entry, snap, tmp_path / "weights.safetensors")
    back = load_file(str(out))
    assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)


def test_mismatch_and_unconverted_formats_are_refused(tmp_path):
    entry = _hub_entry("timm")
    state = entry.build().state_dict()
    state.pop("cls_token")
    torch.save(state, tmp_path / "w.pth")
    with pytest.raises(ValueError, match="cls_token"):
        export_hub_weights(entry, tmp_path / "w.pth", tmp_path / "o.safetensors")
    with pytest.raises(NotImplementedError, match="transformers"):
        export_hub_weights(_hub_entry("transformers"), tmp_path / "w.pth", tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()
