"""Paths of the stage contract that more than one rule or planner names."""

from __future__ import annotations


def manifest(cohort: str) -> str:
    return f"results/manifests/{cohort}.tsv"


def slide(cohort: str, slide_id: str) -> str:
    return f"results/slides/{cohort}/{slide_id}.svs"


def tile_store(cohort: str, tiling: str, slide_id: str) -> str:
    return f"results/tiles/{cohort}/{tiling}/{slide_id}.zarr"


def embeddings(model: str, dataset: str) -> str:
    return f"results/embeddings/{model}/{dataset}.zarr"


def bench_result(benchmark: str, task: str, model: str) -> str:
    """One benchmark score file: what every table cell and rank entry reads."""
    return f"results/bench/{benchmark}/{task}/{model}.json"


def model_weights(model: str) -> str:
    return f"results/models/{model}/weights.safetensors"
