"""Tiny teachers, students and experts (saved to disk) for the distillation tests."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from pathfm.models import get_entry
from pathfm.models.heads import DINOHead

_REG = "{source: path, path: %s}"
_H0 = "mean: [0.7, 0.6, 0.7], std: [0.2, 0.2, 0.2]"
_IN = "mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]"
REGISTRY = """\
models:
  tiny-teacher:
    builder:
      arch: vit_small_patch14_reg4_dinov2
      kwargs: {img_size: 32, patch_size: 8, embed_dim: 48, depth: 2, num_heads: 2,
               init_values: 1.0e-5, mlp_layer: SwiGLUPacked, act_layer: SiLU,
               mlp_ratio: 4.0, dynamic_img_size: true}
    weights: %(teacher)s
    contract: {input_size: 32, %(h0)s, patch_size: 8, prefix_tokens: 5, embed_dim: 48}
  tiny-student:
    builder:
      arch: vit_small_patch14_reg4_dinov2
      kwargs: {img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2,
               init_values: 1.0e-5, mlp_layer: SwiGLUPacked, act_layer: SiLU,
               mlp_ratio: 4.0, dynamic_img_size: true}
    weights: {source: random}
    contract: {input_size: 32, %(h0)s, patch_size: 8, prefix_tokens: 5, embed_dim: 32,
               pooling: cls+mean}
  tiny-gpfm:
    builder:
      arch: vit_small_patch14_dinov2
      kwargs: {img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2,
               init_values: 1.0e-5, dynamic_img_size: true}
    weights: {source: random}
    contract: {input_size: 32, %(imnet)s, patch_size: 8, prefix_tokens: 1, embed_dim: 32}
  tiny-expert-a:
    builder:
      arch: vit_small_patch16_224
      kwargs: {img_size: 32, patch_size: 8, embed_dim: 24, depth: 1, num_heads: 2,
               dynamic_img_size: true}
    weights: %(expert_a)s
    contract: {input_size: 32, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], patch_size: 8,
               prefix_tokens: 1, embed_dim: 24}
  tiny-expert-b:
    builder:
      arch: vit_small_patch16_224
      kwargs: {img_size: 32, patch_size: 4, embed_dim: 16, depth: 1, num_heads: 2,
               dynamic_img_size: true}
    weights: %(expert_b)s
    contract: {input_size: 32, %(imnet)s, patch_size: 4, prefix_tokens: 1, embed_dim: 16}
"""


def write_models(tmp: Path, teacher_heads: bool = False, out_dim: int = 64) -> Path:
    """A registry whose frozen models have seeded random weights saved under ``tmp``.

    With ``teacher_heads`` the teacher file also carries ``dino_head.*`` and
    ``ibot_head.*`` tensors (the ``teacher_heads: checkpoint`` layout).
    """
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    paths = {n: tmp / f"{n}.safetensors" for n in ("teacher", "expert_a", "expert_b")}
    registry = tmp / "models.yaml"
    registry.write_text(REGISTRY % {"h0": _H0, "imnet": _IN,
                                    **{k: _REG % v for k, v in paths.items()}})
    for i, (key, path) in enumerate(paths.items()):
        torch.manual_seed(100 + i)
        entry = get_entry(f"tiny-{key.replace('_', '-')}", registry)
        state = dict(entry.build().state_dict())
        if key == "teacher" and teacher_heads:
            for prefix, bottleneck in (("dino_head.", 24), ("ibot_head.", 16)):
                head = DINOHead(entry.contract.embed_dim, out_dim, 40, bottleneck, 2)
                state.update({prefix + k: v for k, v in head.state_dict().items()})
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return registry


def h0mini_config(registry: Path, **overrides) -> dict:
    cfg = {
        "student": "tiny-student", "teacher": "tiny-teacher", "registry": str(registry),
        "steps": 20, "global_batch_size": 8, "epoch_length": 5, "precision": "fp32",
        "progress": False, "checkpoint_every": 20, "log_every": 5, "deterministic": True,
        "optim": {"lr": 2e-3, "lr_scaling": "none", "warmup_epochs": 1, "min_lr": 1e-4,
                  "freeze_last_layer_epochs": 0, "layerwise_decay": 1.0,
                  "patch_embed_lr_mult": 1.0},
        "ema": {"momentum": 0.9, "momentum_end": 0.99},
        "temperature": {"warmup_epochs": 1},
        "heads": {"out_dim": 64, "hidden_dim": 40, "nlayers": 2, "dino_bottleneck_dim": 24,
                  "ibot_bottleneck_dim": 16},
    }
    for key, value in overrides.items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) and key in cfg else value
    return cfg


def gpfm_config(registry: Path, experts=None, **ssl_overrides) -> dict:
    ssl = {
        "model": "tiny-gpfm", "registry": str(registry), "steps": 20, "batch_size": 8,
        "drop_path_rate": 0.0, "progress": False, "checkpoint_every": 20, "log_every": 5,
        "deterministic": True,
        "optim": {"lr": 2e-3, "lr_scaling": "none", "warmup_steps": 5, "min_lr": 1e-4},
        "teacher": {"momentum": 0.99, "momentum_end": 0.999, "temp": 0.04},
        "heads": {"out_dim": 64, "hidden_dim": 40, "bottleneck_dim": 16, "nlayers": 2},
        **ssl_overrides,
    }
    experts = experts or [
        {"model": "tiny-expert-a", "cls_weight": 1.0, "patch_weight": 0.25},
        {"model": "tiny-expert-b", "cls_weight": 0.5, "patch_weight": 0.125},
    ]
    return {"ssl": ssl, "experts": experts, "projector": {"hidden_dim": 32, "nlayers": 2}}
