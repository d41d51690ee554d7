"""Teacher projection heads read from a checkpoint (``teacher_heads: checkpoint``).

Accepted layouts of one head's tensors (keys after the ``dino_head.`` /
``ibot_head.`` prefix):

- ours (``pathfm.models.heads.DINOHead``): ``mlp.{i}.weight|bias``, ``prototypes``;
- DINOv2's: ``mlp.{i}.*`` plus a weight-normalised last layer, either
  ``last_layer.weight_v`` (+ ``weight_g``) or
  ``last_layer.parametrizations.weight.original1`` (+ ``original0``). With the
  norm ``g`` frozen at 1 (DINOv2's default) the layer is the row-normalised
  ``v``, which is exactly our ``prototypes`` (rows are normalised at forward).

Sizes (hidden, bottleneck, prototypes, number of layers) are read from the
tensors, so a file fixes its own head architecture. A file without an iBOT head
means the DINO head is shared for patch tokens (DINOv2's default).
"""

from __future__ import annotations

from pathlib import Path

import torch

from pathfm.models.heads import DINOHead
from pathfm.models.registry import read_state_dict

HEAD_PREFIXES = ("dino_head.", "ibot_head.")
_PROTOTYPE_KEYS = ("prototypes", "last_layer.weight_v",
                   "last_layer.parametrizations.weight.original1", "last_layer.weight")


def to_pathfm_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One head's tensors in any accepted layout -> DINOHead's keys."""
    out = {k: v for k, v in state.items() if k.startswith("mlp.")}
    for key in _PROTOTYPE_KEYS:
        if key in state:
            out["prototypes"] = state[key]
            return out
    raise KeyError(f"head tensors lack prototypes (one of {_PROTOTYPE_KEYS}); got {sorted(state)}")


def head_from_state(state: dict[str, torch.Tensor]) -> DINOHead:
    """Build a DINOHead whose sizes match ``state`` and load it (strict)."""
    state = to_pathfm_layout(state)
    linear = sorted(int(k.split(".")[1]) for k in state if k.endswith(".weight"))
    first, last = state[f"mlp.{linear[0]}.weight"], state[f"mlp.{linear[-1]}.weight"]
    out_dim, bottleneck = state["prototypes"].shape
    hidden = first.shape[0] if len(linear) > 1 else 2048
    head = DINOHead(first.shape[1], out_dim, hidden, bottleneck, nlayers=len(linear))
    if last.shape[0] != bottleneck:
        raise ValueError(f"head's last MLP layer gives {last.shape[0]} dims but the prototypes "
                         f"have {bottleneck}")
    head.load_state_dict(state, strict=True)
    return head


def load_teacher_heads(found: dict[str, dict[str, torch.Tensor]],
                       heads_path: str | Path | None) -> tuple[DINOHead, DINOHead | None]:
    """(dino_head, ibot_head | None) from ``heads_path`` if given, else from ``found``
    (the head tensors of the teacher weights file). A missing DINO head is an error."""
    if heads_path:
        state = read_state_dict(heads_path)
        found = {p: {k[len(p):]: v for k, v in state.items() if k.startswith(p)}
                 for p in HEAD_PREFIXES}
    where = heads_path or "the teacher weights file"
    if not found.get("dino_head."):
        raise KeyError(
            f"teacher_heads: checkpoint, but {where} has no 'dino_head.*' tensors. H-Optimus-0's "
            f"heads are not public: set teacher_heads: learned, or give teacher_heads_path")
    dino = head_from_state(found["dino_head."])
    ibot = head_from_state(found["ibot_head."]) if found.get("ibot_head.") else None
    return dino, ibot
