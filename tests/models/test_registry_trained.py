"""Trained runs without a registry entry (e.g. derived sweep runs) resolve to their architecture."""

import pytest
import torch
import yaml
from safetensors.torch import save_file

from pathfm.models.registry import get_entry, load_model, load_registry, trained_entries

REGISTRY = load_registry()
RUN = "demo-vit-s8@patching.mpps=0.5,ssl.steps=25"


def test_trained_entries_take_the_run_architecture_and_training_weights():
    runs = {RUN: {"model": "demo-vit-s8"}, "demo-vit-s8": {"model": "demo-vit-s8"}}
    entries = trained_entries(runs, REGISTRY)
    assert list(entries) == [RUN]  # runs the registry already names keep their entry
    entry, arch = entries[RUN], REGISTRY["demo-vit-s8"]
    assert entry.name == RUN and entry.arch == arch.arch and entry.kwargs == arch.kwargs
    assert entry.contract == arch.contract
    assert entry.weights.source == "train"
    assert entry.weights.path == f"results/models/{RUN}/weights.safetensors"


def test_get_entry_resolves_a_trained_run_through_its_card(tmp_path):
    models = tmp_path / "models"
    with pytest.raises(KeyError, match="no trained model card"):
        get_entry(RUN, models_dir=models)
    (models / RUN).mkdir(parents=True)
    (models / RUN / "card.yaml").write_text(yaml.safe_dump({"model": {"name": "demo-vit-s8"}}))
    entry = get_entry(RUN, models_dir=models)
    assert entry.name == RUN and entry.contract == REGISTRY["demo-vit-s8"].contract
    assert entry.weights.path == f"{models}/{RUN}/weights.safetensors"
    # ... and loads the run's weights, not the base model's.
    source = REGISTRY["demo-vit-s8"].build()
    with torch.no_grad():
        for p in source.parameters():
            p.fill_(0.125)
    save_file(source.state_dict(), str(models / RUN / "weights.safetensors"))
    model = load_model(entry)
    assert all(torch.all(p == 0.125) for p in model.parameters())


def test_card_naming_an_unknown_architecture_fails(tmp_path):
    (tmp_path / RUN).mkdir()
    (tmp_path / RUN / "card.yaml").write_text(yaml.safe_dump({"model": {"name": "nope"}}))
    with pytest.raises(KeyError, match="'nope' is not in the registry"):
        get_entry(RUN, models_dir=tmp_path)


def test_registry_names_still_win():
    assert get_entry("demo-vit-s8") is not None
    assert get_entry("demo-vit-s8").weights.path == "results/models/demo-vit-s8/weights.safetensors"
