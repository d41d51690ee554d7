"""Shapes of the registry's ViTs and the bytes one token costs in a forward pass.

``vit_dims(entry)`` reads embed dim, depth, MLP width, heads, prefix tokens, patch size,
LayerScale and parameter count from a committed table (``arch_table.json``) keyed by the
entry's timm ``arch`` + ``kwargs``, so the plan never builds a model at DAG-build time; an
architecture the table lacks is built once on the ``meta`` device (shapes only, ~0.1-0.4 s).
``python benchmarks/bench_memory_plan.py --write-arch-table`` regenerates the table.

Per-token byte counts (``a``: bytes of the autocast compute dtype, 2 for bf16/fp16, 4 for
fp32; the residual stream stays fp32 because parameters are fp32) follow what autograd
saves in a timm ``Block`` with fused SDPA (flash / memory-efficient on CUDA, the flash
kernel on CPU — both save q, k, v, the output and a per-head log-sum-exp, never the
N×N attention matrix):

- residual inputs of norm1 and norm2 (fp32, 2·4·D) and their mean / rstd (16 B);
- the compute-dtype copies feeding qkv (D), fc1 (D), the qkv output shared by q/k/v (3D)
  and the SDPA output, which proj reads as a view (D): 6·a·D;
- MLP: fc1's output plus the activation input/output (GELU: fc2 input; SwiGLU: SiLU
  output and the gated product), 2·a·H in both cases;
- LayerScale inputs (proj and fc2 outputs, 2·a·D) when the block has LayerScale;
- the log-sum-exp, 4 B per head. Drop-path saves only its (B, 1, 1) keep mask.

``tests/planning/test_gpu_memory.py`` checks these counts against the tensors autograd
actually saves (``saved_tensors_hooks``) for small blocks of each kind.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

TABLE = Path(__file__).with_name("arch_table.json")
FP32 = 4


@dataclass(frozen=True)
class ViTDims:
    params: int
    embed_dim: int
    depth: int
    mlp_hidden: int      # fc1 output features (SwiGLU: both halves)
    heads: int
    prefix: int          # CLS + registers
    patch: int
    layerscale: bool

    def tokens(self, px: int) -> int:
        return (px // self.patch) ** 2 + self.prefix

    def patches(self, px: int) -> int:
        return (px // self.patch) ** 2

    def block_saved_per_token(self, a: int) -> int:
        d, h = self.embed_dim, self.mlp_hidden
        ls = 2 * d if self.layerscale else 0
        return 2 * FP32 * d + 16 + a * (6 * d + 2 * h + ls) + 4 * self.heads

    def saved_per_token(self, a: int) -> int:
        """Bytes autograd keeps per token of a trainable pass: every block, the final norm."""
        return self.depth * self.block_saved_per_token(a) + FP32 * self.embed_dim + 8

    def patch_embed_saved(self, a: int) -> int:
        """Per patch token: the conv's input pixels in the compute dtype (under autocast a
        new copy; in fp32 the crop itself, counted with the inputs)."""
        return 3 * self.patch ** 2 * a if a != FP32 else 0

    def nograd_working_set(self, a: int) -> int:
        """Largest set of live tensors per token inside one block of a no-grad forward: the
        fp32 residual and the MLP's fc1 output with its activation / product."""
        return FP32 * self.embed_dim + 2 * a * self.mlp_hidden + a * self.embed_dim

    def backward_working_set(self, a: int) -> int:
        """Per token, the gradients alive while one block runs backward on top of what is
        saved: the residual's gradient (fp32, in and out) and the MLP's hidden gradients."""
        return 2 * FP32 * self.embed_dim + 2 * a * self.mlp_hidden + 2 * a * self.embed_dim


def _key(arch: str, kwargs: dict) -> str:
    return json.dumps([arch, kwargs], sort_keys=True, default=str)


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, dict]:
    if not TABLE.exists():
        return {}
    return {row["key"]: row["dims"] for row in json.loads(TABLE.read_text())}


def measure_dims(arch: str, kwargs: dict) -> ViTDims:
    """Shapes of a timm ViT built on the meta device (no weights, no memory)."""
    from pathfm.models.vit import build_vit

    vit = build_vit(arch, kwargs, device="meta")
    block = vit.blocks[0]
    patch = vit.patch_embed.patch_size
    return ViTDims(
        params=sum(p.numel() for p in vit.parameters()),
        embed_dim=vit.embed_dim, depth=len(vit.blocks),
        mlp_hidden=block.mlp.fc1.out_features, heads=block.attn.num_heads,
        prefix=vit.num_prefix_tokens, patch=patch[0] if isinstance(patch, tuple) else patch,
        layerscale=type(block.ls1).__name__ == "LayerScale")


@functools.lru_cache(maxsize=256)
def _dims(key: str) -> ViTDims:
    if key in _table():
        return ViTDims(**_table()[key])
    arch, kwargs = json.loads(key)
    return measure_dims(arch, kwargs)


def vit_dims(entry) -> ViTDims:
    """Dims of a registry entry (``pathfm.models.registry.ModelEntry``)."""
    return _dims(_key(entry.arch, entry.kwargs))


def table_rows(entries) -> list[dict]:
    """Rows of ``arch_table.json`` for these entries, measured on the meta device."""
    rows = {}
    for e in entries:
        key = _key(e.arch, e.kwargs)
        if key not in rows:
            rows[key] = {"key": key, "models": [], "dims": asdict(measure_dims(e.arch, e.kwargs))}
        rows[key]["models"].append(e.name)
    return sorted(rows.values(), key=lambda r: r["key"])


@dataclass(frozen=True)
class HeadDims:
    """A DINO / iBOT projection head (``pathfm.models.heads.DINOHead``)."""

    in_dim: int
    out_dim: int
    hidden: int
    bottleneck: int
    nlayers: int

    @property
    def params(self) -> int:
        if self.nlayers <= 1:
            mlp = self.in_dim * self.bottleneck + self.bottleneck
        else:
            mlp = (self.in_dim * self.hidden + self.hidden
                   + (self.nlayers - 2) * (self.hidden ** 2 + self.hidden)
                   + self.hidden * self.bottleneck + self.bottleneck)
        return mlp + self.out_dim * self.bottleneck

    def saved_per_row(self, a: int, fused: bool = False) -> int:
        """Inputs of every linear and GELU, the bottleneck before and after the L2 norm
        (``fused``: the chunked losses keep the normalised features in fp32)."""
        n_hidden = max(self.nlayers - 1, 0)
        after_norm = FP32 if fused else a
        return a * (self.in_dim + 2 * n_hidden * self.hidden + self.bottleneck) + after_norm * self.bottleneck

    def prototype_copy(self, a: int) -> int:
        """Each call normalises the prototypes and keeps that (K, bottleneck) copy for its
        backward, in the compute dtype, with the fp32 row norms before and after clamping."""
        return a * self.out_dim * self.bottleneck + 2 * FP32 * self.out_dim


def mlp_params(in_dim: int, out_dim: int, hidden: int, nlayers: int) -> int:
    """Parameters of ``pathfm.train.gpfm.make_projector``."""
    if nlayers <= 1:
        return in_dim * out_dim + out_dim
    return (in_dim * hidden + hidden + (nlayers - 2) * (hidden ** 2 + hidden)
            + hidden * out_dim + out_dim)
