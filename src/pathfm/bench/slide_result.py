"""Result JSON of the slide-level benchmarks: one file per (benchmark, task, model).

Layout (DESIGN.md contract): benchmark, task, model, protocol {name, settings},
metrics {name: {mean, std, runs: [...]}}, seeds, provenance {inputs, code_version},
plus free-form ``details`` (per-run epochs, fold sizes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pathfm.io import write_json_atomic
from pathfm.version import code_version


def summarize_runs(runs: list[dict[str, float]]) -> dict[str, dict]:
    """[{metric: value} per run] -> {metric: {mean, std (ddof 0), runs}}; NaN runs kept, skipped in mean."""
    names = sorted({k for r in runs for k in r})
    out = {}
    for name in names:
        vals = [float(r.get(name, float("nan"))) for r in runs]
        finite = np.array([v for v in vals if np.isfinite(v)])
        out[name] = {"mean": float(finite.mean()) if len(finite) else None,
                     "std": float(finite.std()) if len(finite) else None,
                     "runs": [v if np.isfinite(v) else None for v in vals]}
    return out


def build_result(benchmark: str, task: str, model: str, protocol: str, settings: dict,
                 runs: list[dict[str, float]], seeds: list[int], inputs: dict[str, str],
                 details: dict | None = None) -> dict:
    return {"benchmark": benchmark, "task": task, "model": model,
            "protocol": {"name": protocol, "settings": settings},
            "metrics": summarize_runs(runs), "seeds": list(seeds),
            "provenance": {"inputs": inputs, "code_version": code_version()},
            "details": details or {}}


def write_result(path: str | Path, result: dict) -> None:
    for key in ("benchmark", "task", "model", "protocol", "metrics", "seeds", "provenance"):
        if key not in result:
            raise ValueError(f"result for {path} lacks {key!r}")
    write_json_atomic(path, result)


def read_result(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not a valid result JSON ({e}); delete it and re-run its rule"
                         ) from None
