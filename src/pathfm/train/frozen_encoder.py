"""Frozen backbones (a distillation teacher, GPFM experts) fed crops made for the student.

The data pipeline normalises crops with the *student's* mean/std. A frozen model
has its own embedding contract (mean/std, patch size, input size), so each one
undoes the student's normalisation and applies its own, and optionally resizes
the crops to its input size. It never gets gradients: every parameter has
``requires_grad=False``, the forward runs under ``torch.no_grad()``, it stays in
eval mode, and it is never wrapped in DDP.

Frozen models are built with ``dynamic_img_size=True`` so one built for 224 px
also reads local crops (e.g. 98 px) by interpolating its position embeddings;
the weights are the same tensors either way.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from pathfm.models.contract import EmbeddingContract
from pathfm.models.registry import ModelEntry, read_state_dict, resolve_weights_path
from pathfm.models.vit import Backbone


def renormalize(x: torch.Tensor, source: EmbeddingContract, target: EmbeddingContract
                ) -> torch.Tensor:
    """(B, 3, H, W) normalised with ``source`` mean/std -> normalised with ``target``'s."""
    if source.mean == target.mean and source.std == target.std:
        return x
    kw = {"dtype": x.dtype, "device": x.device}
    s_mean, s_std = (torch.tensor(v, **kw).view(1, 3, 1, 1) for v in (source.mean, source.std))
    t_mean, t_std = (torch.tensor(v, **kw).view(1, 3, 1, 1) for v in (target.mean, target.std))
    return (x * s_std + s_mean - t_mean) / t_std


def weights_file(entry: ModelEntry, override: str | Path | None) -> Path:
    """The local weights of a frozen model: ``override`` or the registry's path; must exist."""
    path = Path(override) if override else resolve_weights_path(entry)
    if path is None:
        raise ValueError(f"frozen model {entry.name!r} has random weights in the registry; "
                         f"a teacher or expert needs trained weights")
    if not path.exists():
        raise FileNotFoundError(
            f"weights of frozen model {entry.name!r} not found at {path}: run the rule that "
            f"produces them (train_ssl / fetch_weights) or set the weights path in the config")
    return path


def split_state(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]
                ) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]]:
    """Backbone keys and, per prefix (e.g. ``dino_head.``), the keys under it (prefix removed)."""
    parts: dict[str, dict[str, torch.Tensor]] = {p: {} for p in prefixes}
    backbone = {}
    for key, value in state.items():
        for p in prefixes:
            if key.startswith(p):
                parts[p][key[len(p):]] = value
                break
        else:
            backbone[key] = value
    return backbone, parts


class FrozenEncoder(nn.Module):
    """forward(x (B, 3, H, W) normalised for ``input_contract``, masks (B, N) | None) -> dict
    cls (B, D), registers (B, R, D), patch (B, N, D), tokens — see ``Backbone``.

    ``grid(h, w)`` gives the (rows, cols) token grid for crops of h × w pixels.
    """

    def __init__(self, entry: ModelEntry, state: dict[str, torch.Tensor],
                 input_contract: EmbeddingContract, input_size: int | None = None):
        super().__init__()
        vit = entry.build(dynamic_img_size=True)
        missing, unexpected = vit.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(f"weights do not match frozen model {entry.name!r}: missing "
                               f"{missing[:5]}, unexpected {unexpected[:5]}")
        self.entry = entry
        self.contract = entry.contract
        self.input_contract = input_contract
        self.input_size = input_size
        self.backbone = Backbone(vit)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenEncoder:
        return super().train(False)  # a frozen model stays in eval mode

    @property
    def patch_size(self) -> int:
        return self.contract.patch_size

    def grid(self, h: int, w: int) -> tuple[int, int]:
        if self.input_size:
            h = w = self.input_size
        return h // self.patch_size, w // self.patch_size

    def adapt(self, x: torch.Tensor) -> torch.Tensor:
        x = renormalize(x, self.input_contract, self.contract)
        if self.input_size and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=True)
        return x

    @torch.no_grad()
    def forward(self, x: torch.Tensor, masks: torch.Tensor | None = None) -> dict:
        return self.backbone(self.adapt(x), masks)


def load_frozen(entry: ModelEntry, weights: str | Path | None, input_contract: EmbeddingContract,
                input_size: int | None = None, head_prefixes: tuple[str, ...] = ()
                ) -> tuple[FrozenEncoder, dict[str, dict[str, torch.Tensor]]]:
    """A FrozenEncoder from a weights file, plus any head tensors found in the same file."""
    state = read_state_dict(weights_file(entry, weights))
    backbone, heads = split_state(state, head_prefixes)
    return FrozenEncoder(entry, backbone, input_contract, input_size), heads
