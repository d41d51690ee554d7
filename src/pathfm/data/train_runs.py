"""The workflow's view of SSL training runs (config ``train.runs``), as plain functions.

``workflow/rules/train.smk`` calls these from lambdas; they take the config
dicts and never import snakemake. A run is named by its output model folder
``results/models/{run}/``; see ``workflow/schemas/train.schema.yaml``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping

from pathfm.data.wsi_subset import choose_slides


def check_runs(runs: Mapping, cohorts: Mapping, registry: Mapping) -> None:
    """Fail at workflow start, naming the key, when a run refers to something unknown."""
    for run, spec in runs.items():
        for cohort in spec["cohorts"]:
            if cohort not in cohorts:
                raise ValueError(f"config train.runs.{run}.cohorts: {cohort!r} is not a cohort")
        if spec["model"] not in registry:
            raise ValueError(
                f"config train.runs.{run}.model: {spec['model']!r} is not in the registry")
        init = spec["init"]
        if init != "random" and init not in runs and init not in registry:
            raise ValueError(f"config train.runs.{run}.init: {init!r} is neither random, "
                             f"a run nor a registry model")
        if init == run:
            raise ValueError(f"config train.runs.{run}.init: a run cannot start from itself")
        policies = {cohorts[c]["mpp_policy"] for c in spec["cohorts"]}
        if len(policies) > 1:
            raise ValueError(f"config train.runs.{run}.cohorts mix mpp policies {sorted(policies)}")


def init_weights(runs: Mapping, registry: Mapping, run: str) -> str | None:
    """Weights file a run starts from: another run's export, a registry model's file, or None."""
    init = runs[run]["init"]
    if init == "random":
        return None
    if init in runs:
        return f"results/models/{init}/weights.safetensors"
    return registry[init].weights.path


def wsi_subset(runs: Mapping, run: str) -> tuple[float, int] | None:
    """(fraction, seed) of a run trained on a seeded share of its slides; None for all."""
    sub = runs[run]["wsi_subset"]
    return None if sub["fraction"] >= 1 else (sub["fraction"], sub["seed"])


def subset_manifest(run: str, cohort: str) -> str:
    """Manifest of the slides a WSI-subset run trains on (beside its weights and card)."""
    return f"results/models/{run}/wsi_subset/{cohort}.tsv"


def manifest_inputs(runs: Mapping, run: str, manifest_path: Callable) -> list[str]:
    """Inputs known before any slide list: the manifests the run trains on (its cohorts',
    or their WSI subsets)."""
    if wsi_subset(runs, run):
        return [subset_manifest(run, c) for c in runs[run]["cohorts"]]
    return [manifest_path(c) for c in runs[run]["cohorts"]]


def run_slide_ids(runs: Mapping, run: str, cohort: str, slide_ids: Callable) -> list[str]:
    """Slide ids of a cohort the run trains on: all, or the seeded WSI subset."""
    ids = list(slide_ids(cohort))
    sub = wsi_subset(runs, run)
    return choose_slides(ids, *sub) if sub else ids


def slide_inputs(runs: Mapping, run: str, slide_ids: Callable, files_of: Callable) -> list[str]:
    """``files_of(cohort, slide_ids)`` (slides, masks or their shard markers) over the
    cohorts of a run, for the slides it trains on."""
    return [f for c in runs[run]["cohorts"]
            for f in files_of(c, run_slide_ids(runs, run, c, slide_ids))]


def init_input(runs: Mapping, registry: Mapping, run: str, can_fetch_hub_weights: bool) -> list:
    """The init weights as an input: always for another run's export; for hub weights only
    when the workflow can fetch them (else the training script names the missing file)."""
    init = init_weights(runs, registry, run)
    if init and (runs[run]["init"] in runs or can_fetch_hub_weights):
        return [init]
    return []


def option(flag: str, value: str | None) -> str:
    """``--flag 'value'`` for a shell command line, or nothing when value is None."""
    return f"{flag} {shlex.quote(str(value))}" if value else ""
