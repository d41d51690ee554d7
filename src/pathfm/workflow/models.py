"""Models: the registry names resolve against, and which weights this workflow makes.

A model's weights are *available* when the file exists or one of this workflow's
rules writes it: ``train_ssl`` for training runs (sweep-derived runs included),
``distill`` for distillation runs, ``fetch_weights`` for hub models. That is known
from the config alone, so no planner asks Snakemake which rule produces what.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from pathfm.models.registry import ModelEntry, load_registry, trained_entries
from pathfm.sweeps import with_sweep_runs
from pathfm.train.distill_workflow import resolve_runs
from pathfm.workflow import paths
from pathfm.workflow.shell_args import joined


def training_runs(config: Mapping) -> dict[str, dict]:
    """``train.runs`` plus the runs the ablation sweeps derive from them."""
    return with_sweep_runs(config["train"]["runs"], config["sweeps"])


def model_registry(config: Mapping) -> dict[str, ModelEntry]:
    """config/models.yaml plus every training run it lacks.

    Derived runs have no entry in config/models.yaml; they embed as their base
    architecture with the weights train_ssl writes (resolved through the card).
    """
    registry = load_registry()
    registry.update(trained_entries(training_runs(config),
                                    load_registry(config["train"]["registry"])))
    return registry


class ModelPlan:
    def __init__(self, config: Mapping, exists: Callable[[str], bool] = os.path.exists):
        self.train_runs = training_runs(config)
        self.distill_runs, self.distill_configs = resolve_runs(config["distill"]["runs"])
        self.registry = model_registry(config)
        # The registry train runs resolve their architecture and init weights in.
        self.train_registry = load_registry(config["train"]["registry"])
        self._exists = exists
        made = set(self.train_runs) | set(self.distill_runs) | set(self.hub_models())
        self._made_weights = {paths.model_weights(m) for m in made}

    def hub_models(self) -> list[str]:
        return [m for m, e in self.registry.items() if e.weights.source == "hub"]

    def hub_argv(self, model: str) -> list[str]:
        """fetch_weights.py's ``--hub-id ID [--filename FILE]``."""
        w = self.registry[model].weights
        return ["--hub-id", w.hub_id] + (["--filename", w.hub_file] if w.hub_file else [])

    hub_args = joined(hub_argv)

    def trained(self) -> set[str]:
        """Models some training rule of this workflow writes (teachers may be among them)."""
        return set(self.train_runs) | set(self.distill_runs)

    def weights(self, model: str) -> list[str]:
        """The weights file a model's embedding job needs ([] for random init)."""
        entry = self.registry[model]
        return [] if entry.weights.source == "random" else [entry.weights.path]

    def weights_argv(self, model: str) -> list[str]:
        """``--weights PATH`` of an embedding command, nothing for random init."""
        found = self.weights(model)
        return ["--weights", found[0]] if found else []

    weights_arg = joined(weights_argv)

    def available(self, model: str) -> bool:
        """True when the weights exist or a rule of this workflow writes them."""
        return all(self._exists(p) or p in self._made_weights for p in self.weights(model))

    def select(self, models: list[str], skip_unavailable: bool) -> list[str]:
        """Configured models; with skip_unavailable, those whose weights nothing makes are
        left out (validate_config has checked that every name is in the registry)."""
        return [m for m in models if not skip_unavailable or self.available(m)]
