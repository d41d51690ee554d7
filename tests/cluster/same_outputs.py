"""What "the same outputs" means for two runs of the workflow in different directories.

Two result trees are the same when they hold the same files and every file is
the same: tensors of a ``.safetensors`` file equal bit for bit (the header may
order keys differently), arrays of a zarr store equal bit for bit with the same
dtype and shape (chunk files may be compressed differently), JSON files equal
once wall-time fields (WALL_TIME_KEYS, e.g. a mask's "seconds") are dropped, and
every other file byte for byte. A zarr store's attributes are not compared: they record the
extraction's speed. Logs, benchmarks, Snakemake's metadata and results/train/
(checkpoints and the training log, with wall times: not rule outputs) are not results.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np


def result_files(root: Path, skip: tuple[str, ...] = ("train",)) -> set[str]:
    """Relative paths of the comparable things under ``root``: files, and zarr stores whole."""
    found = set()
    for path in root.rglob("*"):
        if path.relative_to(root).parts[0] in skip:
            continue
        if any(p.suffix == ".zarr" for p in path.relative_to(root).parents if p.name):
            continue  # inside a store: compared through zarr
        if path.suffix == ".zarr" and path.is_dir():
            found.add(str(path.relative_to(root)))
        elif path.is_file():
            found.add(str(path.relative_to(root)))
    return found


Arrays = dict[str, tuple[str, tuple[int, ...], bytes]]  # name: (dtype, shape, raw bytes)


def _zarr_arrays(path: Path) -> Arrays:
    import zarr

    arrays = {}

    def visit(node, prefix: str) -> None:
        for name, child in node.members():
            if isinstance(child, zarr.Group):
                visit(child, f"{prefix}{name}/")
            else:
                data = np.ascontiguousarray(child[...])
                arrays[prefix + name] = (str(data.dtype), data.shape, data.tobytes())

    with warnings.catch_warnings():
        # Snakemake marks directory() outputs with a .snakemake_timestamp file.
        warnings.filterwarnings("ignore", message="Object at .snakemake_timestamp")
        visit(zarr.open_group(str(path), mode="r"), "")
    return arrays


def _safetensors(path: Path) -> Arrays:
    # Through torch: numpy has no bfloat16.
    import torch
    from safetensors.torch import load_file

    return {k: (str(t.dtype), tuple(t.shape), t.contiguous().view(torch.uint8).numpy().tobytes())
            for k, t in load_file(str(path)).items()}


def _arrays_differ(a: Arrays, b: Arrays) -> str | None:
    if set(a) != set(b):
        return f"arrays {sorted(set(a) ^ set(b))} in only one"
    for key in sorted(a):
        if a[key][:2] != b[key][:2]:
            return f"{key}: {a[key][:2]} against {b[key][:2]}"
        if a[key][2] != b[key][2]:
            return f"{key}: values differ"
    return None


WALL_TIME_KEYS = frozenset({"seconds", "images_per_s"})


def _without_wall_times(value):
    if isinstance(value, dict):
        return {k: _without_wall_times(v) for k, v in value.items() if k not in WALL_TIME_KEYS}
    if isinstance(value, list):
        return [_without_wall_times(v) for v in value]
    return value


def difference(root_a: Path, root_b: Path, rel: str) -> str | None:
    """Why ``rel`` differs between the two trees, or None when it is the same."""
    a, b = root_a / rel, root_b / rel
    if rel.endswith(".zarr"):
        return _arrays_differ(_zarr_arrays(a), _zarr_arrays(b))
    if rel.endswith(".safetensors"):
        return _arrays_differ(_safetensors(a), _safetensors(b))
    if rel.endswith(".json"):
        same = _without_wall_times(json.loads(a.read_text())) == _without_wall_times(
            json.loads(b.read_text()))
        return None if same else "JSON differs (beyond wall times)"
    return None if a.read_bytes() == b.read_bytes() else "bytes differ"


def compare_trees(root_a: Path, root_b: Path) -> tuple[list[str], dict[str, str]]:
    """(paths compared, {path: why it differs}); a path in one tree only differs too."""
    files_a, files_b = result_files(root_a), result_files(root_b)
    diffs = {p: "only in " + (str(root_a) if p in files_a else str(root_b))
             for p in files_a ^ files_b}
    for rel in sorted(files_a & files_b):
        if why := difference(root_a, root_b, rel):
            diffs[rel] = why
    return sorted(files_a | files_b), diffs
