"""Turn downloaded hub weights into the registry's ``weights.safetensors`` (timm key names).

``timm`` and ``torch`` hub formats hold timm-named tensors, sometimes under a
checkpoint wrapper or a ``module.`` / ``backbone.`` prefix; they are unwrapped,
checked against the registry architecture built on the meta device (names and
shapes, so a ViT-g costs no memory) and saved. Formats whose key names differ
(``transformers``, ``torchhub`` code repositories) are refused with a message
naming the model, rather than saved half-converted.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from pathfm.io import atomic_path
from pathfm.models.registry import ModelEntry, read_state_dict

PREFIXES = ("module.", "backbone.", "model.", "encoder.")
DIRECT_FORMATS = ("timm", "torch", None)


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


def export_hub_weights(entry: ModelEntry, downloaded: str | Path, out: str | Path) -> Path:
    fmt = entry.weights.hub_format
    if fmt not in DIRECT_FORMATS:
        raise NotImplementedError(
            f"model {entry.name!r}: hub_format {fmt!r} needs a key conversion to timm names that pathfm does "
            f"not ship; convert the checkpoint to timm keys and set weights.source: path in config/models.yaml")
    state = strip_prefixes(read_state_dict(find_weights_file(downloaded)))
    # Classification / projection heads of published checkpoints are not part of the backbone.
    keep = set(entry.build(device="meta").state_dict())
    state = {k: v for k, v in state.items() if not k.startswith("head.") or k in keep}
    check_against(entry, state)
    with atomic_path(out) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    return Path(out)
