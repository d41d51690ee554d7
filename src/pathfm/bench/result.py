"""Benchmark result files: one JSON per (benchmark, task, model).

    {"benchmark", "task", "model", "protocol": {"name", "settings"},
     "metrics": {name: {"mean", "std", "runs": [...]}}, "seeds": [...],
     "provenance": {"embeddings": ..., "code_version": ...}, ...extra}

std is the population std (ddof 0), as HEST and eva report it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pathfm.io import write_json_atomic
from pathfm.version import code_version

REQUIRED = ("benchmark", "task", "model", "protocol", "metrics", "seeds", "provenance")


def summarize(runs: dict[str, list[float]]) -> dict[str, dict]:
    return {name: {"mean": float(np.mean(v)), "std": float(np.std(v)), "runs": [float(x) for x in v]}
            for name, v in runs.items()}


def write_result(path: str | Path, *, benchmark: str, task: str, model: str, protocol: str, settings: dict,
                 runs: dict[str, list[float]], seeds: list[int], provenance: dict, **extra) -> dict:
    obj = {"benchmark": benchmark, "task": task, "model": model,
           "protocol": {"name": protocol, "settings": settings},
           "metrics": summarize(runs), "seeds": [int(s) for s in seeds],
           "provenance": {"code_version": code_version(), **provenance}, **extra}
    write_json_atomic(path, obj)
    return obj


def read_result(path: str | Path) -> dict:
    obj = json.loads(Path(path).read_text())
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise ValueError(f"{path}: not a benchmark result (lacks {missing})")
    return obj


def store_provenance(store) -> dict:
    """What a result records of the embedding store it was computed from."""
    a = store.attrs
    return {"embeddings": str(store.path), "embedding_model": a.get("model"),
            "weights_sha256": a.get("weights_sha256"), "contract": a.get("contract"),
            "embedding_code_version": a.get("code_version"), "embedding_dtype": a.get("dtype")}
