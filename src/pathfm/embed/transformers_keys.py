"""HF transformers ViT checkpoints -> timm ``VisionTransformer`` state dicts.

Three transformers layouts are converted, each as the hub stores it
(``save_pretrained`` writes the legacy v4 names, ``encoder.layer.N.attention.attention.query``)
and as a transformers 5 model's ``state_dict()`` names it (``layers.N.attention.q_proj`` /
``encoder.layer.N.attention.q_proj``):

``ViTModel``                  Phikon: pre-norm blocks, no LayerScale.
``Dinov2Model``               Phikon-v2: LayerScale, plain MLP or SwiGLU (``use_swiglu_ffn``).
``Dinov2WithRegistersModel``  Hibou-style: as Dinov2Model plus ``embeddings.register_tokens``.

The conversion is exact (the timm model computes the same function) under three rules:

* q/k/v are concatenated in that order into timm's fused ``attn.qkv``.
* transformers adds the position embedding to [CLS, patches] and inserts the registers
  after it, so registers carry none. A ``no_embed_class`` target (pos_embed over patches
  only) gets the CLS position folded into ``cls_token``; otherwise the registers get zero
  rows. The patch grid is copied, never resampled: a checkpoint trained at another size
  must be registered at that size.
* SwiGLU: transformers computes ``silu(gate) * up`` with ``gate`` the first half of the
  packed ``weights_in``, which is timm ``SwiGLUPacked`` (``gate_last=False``) ``fc1`` as is,
  or timm ``SwiGLU``'s ``fc1_g`` / ``fc1_x``.

Not convertible by renaming: LayerNorm eps. transformers' ViT uses 1e-12 where timm's
ViT uses 1e-6 (DINOv2 uses 1e-6 in both); ``layer_norm_eps_note`` says when they differ.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn

LAYOUTS = ("ViTModel", "Dinov2Model", "Dinov2WithRegistersModel")
PATCH_KEY = "embeddings.patch_embeddings.projection.weight"
DROPPED = ("embeddings.mask_token", "pooler.")  # MIM mask token and the tanh pooler: not backbone

# transformers ``hidden_act`` -> the timm / torch activation computing the same function.
ACTIVATIONS = {
    "gelu": lambda m: isinstance(m, nn.GELU) and m.approximate == "none",
    "gelu_pytorch_tanh": lambda m: isinstance(m, nn.GELU) and m.approximate == "tanh",
    "gelu_new": lambda m: isinstance(m, nn.GELU) and m.approximate == "tanh",
    "silu": lambda m: isinstance(m, nn.SiLU),
    "swish": lambda m: isinstance(m, nn.SiLU),
    "relu": lambda m: isinstance(m, nn.ReLU),
}

_BLOCK = re.compile(r"^(?:encoder\.layer|layers)\.(\d+)\.(.+)$")
# Per-block renames; q/k/v and the SwiGLU input are gathered separately.
_BLOCK_RENAMES = {
    "layernorm_before": "norm1", "layernorm_after": "norm2",  # ViTModel
    "norm1": "norm1", "norm2": "norm2",  # Dinov2*
    "attention.output.dense": "attn.proj", "attention.o_proj": "attn.proj",
    "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",  # ViTModel, legacy names
    "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2",
    "mlp.weights_out": "mlp.fc2", "mlp.down_proj": "mlp.fc2",  # SwiGLU output
}
_LAYER_SCALES = {"layer_scale1": "ls1", "layer_scale2": "ls2"}
_QKV = {"attention.attention.query": "q", "attention.attention.key": "k",
        "attention.attention.value": "v", "attention.q_proj": "q", "attention.k_proj": "k",
        "attention.v_proj": "v"}
_TOP_RENAMES = {
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "embeddings.register_tokens": "reg_token",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_SWIGLU_IN = {"mlp.weights_in": "packed", "mlp.gate_proj": "gate", "mlp.up_proj": "up"}


def base_prefix(state: dict[str, torch.Tensor]) -> str | None:
    """The prefix of the base model's keys (``""``, ``vit.``, ``dinov2.``, …), None if none."""
    for key in state:
        if key.endswith(PATCH_KEY):
            return key[: -len(PATCH_KEY)]
    return None


def detect_layout(state: dict[str, torch.Tensor]) -> str | None:
    """Which of ``LAYOUTS`` a (prefix-free) state dict is, None if none of them."""
    if PATCH_KEY not in state or "embeddings.position_embeddings" not in state:
        return None
    names = {m.group(2).rsplit(".", 1)[0] for k in state if (m := _BLOCK.match(k))}
    if "layernorm_before" in names:
        return "ViTModel"
    if "norm1" in names and "layer_scale1" in names:
        return "Dinov2WithRegistersModel" if "embeddings.register_tokens" in state else "Dinov2Model"
    return None


def _split_hint(names: set[str]) -> str:
    return ", ".join(sorted(names)[:6]) + (" …" if len(names) > 6 else "")


def _pos_embed(pos: torch.Tensor, target: nn.Module, cls: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(pos_embed, cls_token) in the target's layout from transformers' [CLS, patches] table."""
    grid = tuple(target.patch_embed.grid_size)
    n_src = pos.shape[1] - 1
    if n_src != grid[0] * grid[1]:
        side = round(n_src ** 0.5)
        raise ValueError(
            f"position embeddings cover a {side}x{side} patch grid, the registry model a "
            f"{grid[0]}x{grid[1]} one: set builder.kwargs img_size / patch_size to the "
            f"checkpoint's (pathfm copies position embeddings, it does not resample them)")
    if target.pos_embed is None:
        raise ValueError("the registry model has no position embedding to copy the checkpoint's into")
    want = target.pos_embed.shape[1]
    if want == n_src:  # no_embed_class: pos_embed over patches only
        return pos[:, 1:], cls + pos[:, :1]
    n_reg = want - n_src - 1
    if n_reg < 0 or target.cls_token is None:
        raise ValueError(f"registry model's pos_embed has {want} rows; cannot place a CLS + "
                         f"{n_src}-patch table")
    zeros = pos.new_zeros(1, n_reg, pos.shape[2])
    return torch.cat([pos[:, :1], zeros, pos[:, 1:]], dim=1), cls


def _swiglu_fc1(parts: dict[str, torch.Tensor], target_keys: set[str], block: int,
                kind: str) -> dict[str, torch.Tensor]:
    """timm SwiGLU input weights from transformers' packed ``weights_in`` or gate/up pair."""
    if "packed" in parts:
        gate, up = parts["packed"].chunk(2, dim=0)
    else:
        gate, up = parts["gate"], parts["up"]
    if f"blocks.{block}.mlp.fc1_g.{kind}" in target_keys:  # timm SwiGLU (unpacked)
        return {f"blocks.{block}.mlp.fc1_g.{kind}": gate, f"blocks.{block}.mlp.fc1_x.{kind}": up}
    return {f"blocks.{block}.mlp.fc1.{kind}": torch.cat([gate, up], dim=0)}  # SwiGLUPacked


def convert_transformers_state(state: dict[str, torch.Tensor], target: nn.Module,
                               config: dict | None = None) -> dict[str, torch.Tensor]:
    """timm-keyed state dict for ``target`` (a timm VisionTransformer, meta device is fine).

    ``config`` is the snapshot's config.json, if any: it is checked for what shapes cannot
    show (the MLP activation). Raises NotImplementedError for key sets that are none of
    ``LAYOUTS`` and ValueError for keys the conversion does not account for: nothing is
    dropped beyond the mask token, the pooler and task heads.
    """
    prefix = base_prefix(state)
    if prefix is not None:
        # Keys outside the base model are task heads (ViTForImageClassification's classifier, …).
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if prefix is None or detect_layout(state) is None:
        raise NotImplementedError(
            f"not a transformers {' / '.join(LAYOUTS)} checkpoint (keys: {_split_hint(set(state))}); "
            f"pathfm converts only those layouts")
    target_keys = set(target.state_dict())
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    swiglu: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    unknown: set[str] = set()
    for key, value in state.items():
        if key.startswith(DROPPED):
            continue
        if (m := _BLOCK.match(key)) is not None:
            block, (name, kind) = int(m.group(1)), m.group(2).rsplit(".", 1)
            if name in _QKV:
                qkv.setdefault((block, kind), {})[_QKV[name]] = value
            elif name in _SWIGLU_IN:
                swiglu.setdefault((block, kind), {})[_SWIGLU_IN[name]] = value
            elif name in _LAYER_SCALES and kind == "lambda1":
                out[f"blocks.{block}.{_LAYER_SCALES[name]}.gamma"] = value
            elif name in _BLOCK_RENAMES:
                out[f"blocks.{block}.{_BLOCK_RENAMES[name]}.{kind}"] = value
            else:
                unknown.add(key)
        elif key in _TOP_RENAMES:
            out[_TOP_RENAMES[key]] = value
        elif key not in ("embeddings.cls_token", "embeddings.position_embeddings"):
            unknown.add(key)
    if unknown:
        raise ValueError(f"transformers keys with no timm counterpart: {_split_hint(unknown)}")
    for (block, kind), parts in sorted(qkv.items()):
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(f"block {block}: attention {kind} has only {sorted(parts)} of q/k/v")
        out[f"blocks.{block}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    for (block, kind), parts in sorted(swiglu.items()):
        if "packed" not in parts and set(parts) != {"gate", "up"}:
            raise ValueError(f"block {block}: SwiGLU {kind} has only {sorted(parts)} of gate/up")
        out.update(_swiglu_fc1(parts, target_keys, block, kind))
    out["pos_embed"], out["cls_token"] = _pos_embed(
        state["embeddings.position_embeddings"], target, state["embeddings.cls_token"])
    if config is not None and not swiglu:  # transformers' SwiGLU is always SiLU
        check_activation(config, target)
    return out


def check_activation(config: dict, target: nn.Module) -> None:
    """Raise unless the plain MLP's ``hidden_act`` is the activation the timm blocks compute."""
    act = config.get("hidden_act", "gelu")
    same = ACTIVATIONS.get(act)
    mine = getattr(target.blocks[0].mlp, "act", None) if len(target.blocks) else None
    if same is None or mine is None or not same(mine):
        raise ValueError(f"config.json hidden_act {act!r} is not the registry model's MLP "
                         f"activation {mine!r}; set builder.kwargs act_layer to match")


def layer_norm_eps_note(config: dict, target: nn.Module) -> str | None:
    """A sentence when the checkpoint's LayerNorm eps differs from the timm model's, else None."""
    src = config.get("layer_norm_eps")
    dst = getattr(target.norm, "eps", None)
    if src is None or dst is None or float(src) == float(dst):
        return None
    # Each norm's output moves by about (eps_a - eps_b) / (2 var) relative, so tokens with a
    # small variance (the first block's CLS row, cls_token + pos_embed[0]) move most;
    # tests/embed/test_transformers_keys.py measures the effect.
    return (f"LayerNorm eps {src:g} in the checkpoint, {dst:g} in the timm model: embeddings "
            f"are close to, not identical with, transformers'")
