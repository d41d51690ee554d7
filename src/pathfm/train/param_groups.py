"""AdamW parameter groups for distillation tasks (same rules as the SSL task).

No weight decay on biases, norms, LayerScale and tokens; layer-wise lr decay
``decay^(depth + 1 − layer)`` for parameters of a ViT (embeddings are layer 0,
heads and projectors are layer depth + 1, i.e. full lr).
"""

from __future__ import annotations

import torch.nn as nn

from pathfm.train.ssl import _layer_id

_NO_DECAY_TOKENS = ("cls_token", "reg_token", "pos_embed", "mask_token")


def param_groups(named: list[tuple[str, nn.Module]], depth: int, layerwise_decay: float = 1.0,
                 patch_embed_lr_mult: float = 1.0) -> list[dict]:
    """Groups with ``lr_scale`` / ``wd_scale`` over the trainable params of named modules.

    ``named``: (prefix, module) pairs; a module whose prefix is ``backbone`` (or whose
    parameter names start with ``backbone.``) gets the layer-wise decay of a ViT of
    ``depth`` blocks, everything else the full lr.
    """
    groups: dict[tuple, dict] = {}
    for prefix, module in named:
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            full = f"{prefix}.{name}" if prefix else name
            layer = _layer_id(full, depth) if full.startswith("backbone.") else depth + 1
            lr_scale = layerwise_decay ** (depth + 1 - layer)
            if "patch_embed" in full:
                lr_scale *= patch_embed_lr_mult
            no_wd = p.ndim <= 1 or full.endswith(".gamma") or any(t in full for t in
                                                                  _NO_DECAY_TOKENS)
            key = (lr_scale, 0.0 if no_wd else 1.0)
            groups.setdefault(key, {"params": [], "lr_scale": key[0], "wd_scale": key[1]})
            groups[key]["params"].append(p)
    return list(groups.values())
