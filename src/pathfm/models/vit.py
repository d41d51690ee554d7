"""timm ViT builders and the backbone wrapper used for training.

``build_vit`` turns a registry entry's ``arch`` + ``kwargs`` into a timm
``VisionTransformer`` with ``pretrained=False``: building never downloads;
weights are loaded separately from a local file (``registry.load_weights``).
YAML cannot hold Python classes, so ``mlp_layer`` / ``act_layer`` /
``norm_layer`` are written as names and resolved here (``SwiGLUPacked`` from
``timm.layers``, ``SiLU`` from ``torch.nn``), as H-Optimus-0 / H0-mini need.

``Backbone`` adds the one thing SSL needs that timm lacks: a learned mask token
substituted for masked patch embeddings before the transformer (iBOT / DINOv2).
Its ``vit`` attribute keeps plain timm parameter names, so exported weights load
into ``timm.create_model(arch, **kwargs)`` with ``strict=True``.
"""

from __future__ import annotations

import timm
import timm.layers
import torch
import torch.nn as nn

_LAYER_KWARGS = ("mlp_layer", "act_layer", "norm_layer", "embed_norm_layer")


def resolve_layer(name: str):
    """'SwiGLUPacked' -> timm.layers.SwiGLUPacked, 'SiLU' -> torch.nn.SiLU."""
    for namespace in (timm.layers, nn):
        if hasattr(namespace, name):
            return getattr(namespace, name)
    raise ValueError(f"unknown layer {name!r}: not in timm.layers nor torch.nn")


def timm_kwargs(kwargs: dict) -> dict:
    """Registry kwargs (layer classes as names) -> kwargs for timm.create_model."""
    out = dict(kwargs)
    for key in _LAYER_KWARGS:
        if isinstance(out.get(key), str):
            out[key] = resolve_layer(out[key])
    return out


def build_vit(arch: str, kwargs: dict, device: str | torch.device | None = None,
              **overrides) -> nn.Module:
    """Build a timm ViT without any weights download.

    ``device='meta'`` builds a shape-only model (no memory), handy to check a
    1.1B-parameter config. ``overrides`` (e.g. ``drop_path_rate``) win over kwargs.
    """
    kw = timm_kwargs({**kwargs, **overrides})
    kw.setdefault("num_classes", 0)
    if device is not None:
        kw["device"] = device
    return timm.create_model(arch, pretrained=False, **kw)


class Backbone(nn.Module):
    """A timm ViT returning CLS, register and patch tokens, with optional masking.

    forward(x: (B, 3, H, W), masks: (B, N) bool | None) -> dict
        cls: (B, D); registers: (B, R, D); patch: (B, N, D); N = (H/p)·(W/p).
    """

    def __init__(self, vit: nn.Module):
        super().__init__()
        self.vit = vit
        self.embed_dim = vit.embed_dim
        self.num_prefix_tokens = vit.num_prefix_tokens
        # Zero init as in DINOv2; only used where masks select patches.
        self.mask_token = nn.Parameter(torch.zeros(1, vit.embed_dim))

    def forward(self, x: torch.Tensor, masks: torch.Tensor | None = None) -> dict:
        vit = self.vit
        x = vit.patch_embed(x)  # (B, N, D), or (B, h, w, D) with dynamic_img_size
        if masks is not None:
            m = masks.reshape(x.shape[:-1]).unsqueeze(-1)
            x = torch.where(m, self.mask_token.to(x.dtype), x)
        x = vit._pos_embed(x)  # prepends CLS + registers -> (B, P + N, D)
        x = vit.patch_drop(x)
        x = vit.norm_pre(x)
        x = vit.blocks(x)
        x = vit.norm(x)
        p = self.num_prefix_tokens
        return {"cls": x[:, 0], "registers": x[:, 1:p], "patch": x[:, p:], "tokens": x}
