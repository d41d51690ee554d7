"""Tiny synthetic multi-crop data and a tiny model registry for training tests.

Images are class-structured textures (oriented sinusoidal stripes with a class
colour, plus noise); views are random shifts, flips and brightness changes,
made with vectorised tensor ops so a step costs milliseconds. A batch is a pure
function of (seed, epoch, index), and each rank takes its slice of the same
global batch, so 1 process × B equals 2 processes × B/2.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

TINY_REGISTRY = """\
models:
  tiny-vit:
    builder:
      arch: vit_small_patch16_224
      kwargs: {img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2,
               dynamic_img_size: true}
    weights: {source: random}
    contract: {input_size: 32, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
               patch_size: 8, prefix_tokens: 1, pooling: cls, embed_dim: 32}
"""


def write_registry(tmp: Path) -> Path:
    path = Path(tmp) / "models.yaml"
    path.write_text(TINY_REGISTRY)
    return path


def tiny_config(registry: Path, **overrides) -> dict:
    cfg = {
        "model": "tiny-vit", "registry": str(registry), "objective": "dino", "seed": 0,
        "steps": 20, "batch_size": 8, "drop_path_rate": 0.0, "progress": False,
        "checkpoint_every": 10, "log_every": 5, "deterministic": True,
        "optim": {"lr": 2e-3, "lr_scaling": "none", "warmup_steps": 5, "min_lr": 1e-4,
                  "weight_decay": 0.04, "weight_decay_end": 0.04, "clip_grad": 3.0},
        "teacher": {"momentum": 0.99, "momentum_end": 0.999, "temp": 0.04},
        "heads": {"out_dim": 128, "hidden_dim": 64, "bottleneck_dim": 32, "nlayers": 2,
                  "ibot_out_dim": 128, "ibot_hidden_dim": 64, "ibot_bottleneck_dim": 32},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            cfg[key] = {**cfg.get(key, {}), **value}
        else:
            cfg[key] = value
    return cfg


class SyntheticMultiCrop:
    """Iterable of {"global": (2·b, 3, G, G), "local": (L·b, 3, g, g)}, b = batch/world."""

    def __init__(self, batch_size: int = 8, steps_per_epoch: int = 7, n_classes: int = 4,
                 global_size: int = 32, local_size: int = 16, n_local: int = 2, seed: int = 0,
                 rank: int = 0, world_size: int = 1, nan_at: int | None = None):
        assert batch_size % world_size == 0
        self.b, self.steps, self.k = batch_size, steps_per_epoch, n_classes
        self.gs, self.ls, self.n_local = global_size, local_size, n_local
        self.seed, self.rank, self.world = seed, rank, world_size
        self.nan_at = nan_at  # global index of the batch whose pixels are NaN
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        for i in range(self.steps):
            yield self.batch(self.epoch, i)

    def _images(self, g: torch.Generator, n: int, size: int) -> torch.Tensor:
        labels = torch.randint(0, self.k, (n,), generator=g)
        yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        theta = labels.float() * math.pi / self.k
        freq = 0.15 + 0.1 * (labels.float() % 2)
        phase = torch.rand(n, generator=g) * 2 * math.pi
        wave = torch.sin(freq[:, None, None] * (xx * torch.cos(theta)[:, None, None]
                                                 + yy * torch.sin(theta)[:, None, None])
                         + phase[:, None, None])
        colour = torch.stack([0.5 + 0.4 * torch.cos(theta), 0.5 + 0.4 * torch.sin(theta),
                              0.3 + 0.1 * labels.float() / self.k], dim=1)  # (n, 3)
        img = colour[:, :, None, None] * (0.6 + 0.4 * wave[:, None])
        return (img + 0.05 * torch.randn(img.shape, generator=g)).clamp(0, 1)

    def _views(self, g, imgs, size, count) -> torch.Tensor:
        n, _, big, _ = imgs.shape
        views = []
        for _ in range(count):
            top = torch.randint(0, big - size + 1, (1,), generator=g).item()
            left = torch.randint(0, big - size + 1, (1,), generator=g).item()
            v = imgs[:, :, top:top + size, left:left + size]
            if torch.rand(1, generator=g).item() < 0.5:
                v = v.flip(-1)
            v = v * (0.8 + 0.4 * torch.rand(n, 1, 1, 1, generator=g))
            views.append((v.clamp(0, 1) - 0.5) / 0.5)
        return views

    def batch(self, epoch: int, index: int) -> dict:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 10_007 + index)
        imgs = self._images(g, self.b, self.gs + 8)
        glob = self._views(g, imgs, self.gs, 2)
        loc = [torch.nn.functional.interpolate(v, size=self.ls, mode="bilinear",
                                               align_corners=False)
               for v in self._views(g, imgs, self.gs // 2, self.n_local)]
        per = self.b // self.world
        sl = slice(self.rank * per, (self.rank + 1) * per)
        out = {"global": torch.cat([v[sl] for v in glob]),
               "local": torch.cat([v[sl] for v in loc])}
        if self.nan_at is not None and epoch * self.steps + index == self.nan_at:
            out["global"] = torch.full_like(out["global"], float("nan"))
        return out
