"""Plain helpers for the distill rule (kept out of the .smk, which holds rules only)."""

from __future__ import annotations

from pathfm.models.registry import get_entry, resolve_weights_path
from pathfm.train.distill_config import frozen_models, workflow_run_configs

def resolve_runs(runs: dict) -> tuple[dict, dict]:
    """(runs, resolved run configs) of the config's ``distill.runs``. A ``scratch_of``
    twin states its own cohort, tiling and resources (schema defaults fill them)."""
    return runs, workflow_run_configs(runs)


def frozen_weight_inputs(cfg: dict, produced: set[str], can_fetch: bool) -> list[str]:
    """Weights files of a resolved run config's teacher / experts that are rule inputs:
    a path named in the config, a model another rule of the workflow trains
    (``produced``), or hub weights when the workflow can fetch them. Other files are
    not inputs; the script stops with an error naming the file and its source."""
    registry = cfg.get("registry") or cfg.get("ssl", {}).get("registry")
    inputs = []
    for name, path in frozen_models(cfg).items():
        entry = get_entry(name, registry)
        if path:
            inputs.append(str(path))
        elif name in produced or (entry.weights.source == "hub" and can_fetch):
            inputs.append(str(resolve_weights_path(entry)))
    return inputs
