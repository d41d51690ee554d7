"""The model registry the workflow resolves names against."""

from __future__ import annotations

from collections.abc import Mapping

from pathfm.models.registry import ModelEntry, load_registry, trained_entries
from pathfm.sweeps import with_sweep_runs


def training_runs(config: Mapping) -> dict[str, dict]:
    """``train.runs`` plus the runs the ablation sweeps derive from them."""
    return with_sweep_runs(config["train"].get("runs", {}), config.get("sweeps"))


def model_registry(config: Mapping) -> dict[str, ModelEntry]:
    """config/models.yaml plus every training run it lacks.

    Derived runs have no entry in config/models.yaml; they embed as their base
    architecture with the weights train_ssl writes (resolved through the card).
    """
    registry = load_registry()
    registry.update(trained_entries(training_runs(config),
                                    load_registry(config["train"].get("registry"))))
    return registry
