"""Turn downloaded hub weights into the registry's ``weights.safetensors`` (timm key names).

``timm`` and ``torch`` hub formats hold timm-named tensors, sometimes under a
checkpoint wrapper or a ``module.`` / ``backbone.`` prefix; they are unwrapped.
``transformers`` snapshots (ViTModel, Dinov2Model, Dinov2WithRegistersModel) are
renamed by ``pathfm.embed.transformers_keys``. Either way the result is checked
against the registry architecture built on the meta device (names and shapes, so a
ViT-g costs no memory) before it is saved. Other formats (``torchhub`` code
repositories) are refused with a message naming the model, rather than saved
half-converted.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from safetensors.torch import save_file

from pathfm.embed import transformers_keys
from pathfm.io import atomic_path
from pathfm.models.registry import ModelEntry, read_state_dict

log = logging.getLogger(__name__)

PREFIXES = ("module.", "backbone.", "model.", "encoder.")
DIRECT_FORMATS = ("timm", "torch", None)
CONVERTED_FORMATS = ("transformers",)
SHARD_INDEX = "model.safetensors.index.json"


def find_weights_file(path: str | Path) -> Path:
    """The weights file inside a downloaded snapshot folder (or ``path`` itself)."""
    path = Path(path)
    if path.is_file():
        return path
    for pattern in ("*.safetensors", "pytorch_model.bin", "*.pth", "*.pt", "*.bin"):
        found = sorted(path.rglob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError(f"{path}: no .safetensors / .bin / .pth weights found")


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a prefix shared by every key (DDP's ``module.``, DINO's ``backbone.``, …)."""
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if state and all(k.startswith(p) for k in state):
                state = {k[len(p):]: v for k, v in state.items()}
                changed = True
    return state


def check_against(entry: ModelEntry, state: dict[str, torch.Tensor]) -> None:
    """Raise naming the first mismatching keys/shapes between ``state`` and the registry model."""
    model = entry.build(device="meta")
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(want) - set(state))
    unexpected = sorted(set(state) - set(want))
    shapes = [k for k in set(want) & set(state) if tuple(state[k].shape) != want[k]]
    if missing or unexpected or shapes:
        raise ValueError(f"weights of {entry.name!r} do not match {entry.arch}: missing {missing[:4]}, "
                         f"unexpected {unexpected[:4]}, wrong shapes {sorted(shapes)[:4]}")


def read_transformers_snapshot(downloaded: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """State dict (all shards of a sharded checkpoint) and config.json (None if absent)
    of a transformers snapshot."""
    path = Path(downloaded)
    folder = path if path.is_dir() else path.parent
    index = folder / SHARD_INDEX
    if path.is_dir() and index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        state = {}
        for shard in shards:
            state.update(read_state_dict(folder / shard))
    else:
        preferred = folder / "model.safetensors"
        state = read_state_dict(preferred if path.is_dir() and preferred.is_file() else find_weights_file(path))
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else None
    return state, config


def convert_transformers(entry: ModelEntry, downloaded: str | Path) -> dict[str, torch.Tensor]:
    """timm-keyed weights of ``entry`` from a transformers snapshot (folder or weights file)."""
    state, config = read_transformers_snapshot(downloaded)
    target = entry.build(device="meta")
    try:
        converted = transformers_keys.convert_transformers_state(state, target, config)
    except NotImplementedError as err:
        raise NotImplementedError(f"model {entry.name!r}: hub_format 'transformers': {err}") from err
    except ValueError as err:
        raise ValueError(f"model {entry.name!r}: {err}") from err
    note = transformers_keys.layer_norm_eps_note(config or {}, target)
    if note:
        log.warning("model %s: %s", entry.name, note)
    return converted


def export_hub_weights(entry: ModelEntry, downloaded: str | Path, out: str | Path) -> Path:
    fmt = entry.weights.hub_format
    if fmt in CONVERTED_FORMATS:
        state = convert_transformers(entry, downloaded)
    elif fmt in DIRECT_FORMATS:
        state = strip_prefixes(read_state_dict(find_weights_file(downloaded)))
        # Classification / projection heads of published checkpoints are not part of the backbone.
        keep = set(entry.build(device="meta").state_dict())
        state = {k: v for k, v in state.items() if not k.startswith("head.") or k in keep}
    else:
        known = ", ".join(repr(f) for f in (*DIRECT_FORMATS, *CONVERTED_FORMATS) if f)
        raise NotImplementedError(
            f"model {entry.name!r}: hub_format {fmt!r} needs a key conversion to timm names that pathfm does "
            f"not ship (it exports {known}); convert the checkpoint to timm keys and set "
            f"weights.source: path in config/models.yaml")
    check_against(entry, state)
    with atomic_path(out) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    return Path(out)
