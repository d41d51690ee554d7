"""Export trained weights: ``weights.safetensors`` + ``card.yaml`` beside it.

The card records what a reader needs to trust and reuse the weights: the model
entry (timm arch + kwargs, embedding contract), the resolved training config,
the code version (``pathfm.code_version()``), the sha256 of the weights and of
the data manifest(s) the model was trained on. Both files appear atomically.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from pathfm.version import code_version


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def manifest_hash(paths) -> str | None:
    """sha256 over the named manifest files (in the given order), None if none."""
    if not paths:
        return None
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    h = hashlib.sha256()
    for p in paths:
        h.update(sha256_file(p).encode())
    return h.hexdigest()


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _plain(obj):
    """Config values as YAML-safe plain types (tuples, Paths, numpy scalars)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return obj.item()
    return obj


def export_model(state: dict[str, torch.Tensor], out_dir: str | Path, entry=None,
                 config: dict | None = None, step: int | None = None,
                 data_manifest=None, extra: dict | None = None) -> dict[str, Path]:
    """Write ``out_dir/weights.safetensors`` and ``out_dir/card.yaml``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "weights.safetensors"
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    _atomic_write(weights, lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"}))
    card = {
        "weights": weights.name,
        "weights_sha256": sha256_file(weights),
        "num_params": int(sum(v.numel() for v in tensors.values())),
        "code_version": code_version(),
        "step": step,
        "data_manifest": _plain(data_manifest),
        "data_manifest_sha256": manifest_hash(data_manifest),
    }
    if entry is not None:
        card["model"] = {"name": entry.name, "arch": entry.arch, "kwargs": _plain(entry.kwargs),
                         "contract": _plain(entry.contract.to_dict())}
    if config is not None:
        card["config"] = _plain(config)
    if extra:
        card.update(_plain(extra))
    card_path = out_dir / "card.yaml"

    def write_card(tmp):
        with open(tmp, "w") as f:
            yaml.safe_dump(card, f, sort_keys=False)

    _atomic_write(card_path, write_card)
    return {"weights": weights, "card": card_path}


def export_heads(tensors: dict[str, torch.Tensor], out_dir: str | Path) -> Path:
    """Write ``out_dir/heads.safetensors`` (projection heads, kept apart from the backbone
    so ``weights.safetensors`` always loads into the registry's timm architecture)."""
    path = Path(out_dir) / "heads.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"}))
    return path
