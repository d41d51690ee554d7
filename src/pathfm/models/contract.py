"""The embedding contract of a backbone: how to feed it and how to pool its tokens.

Every embedding store records the contract it was written with, so a number in a
table can always be traced back to the exact input size, normalisation and
pooling. Poolings:

- ``cls``: the CLS token, ``(B, D)``.
- ``cls+mean``: CLS concatenated with the mean of the *patch* tokens only
  (CLS and register tokens skipped), ``(B, 2D)`` — the H0-mini paper's choice.
- ``cls+mean_incl_registers``: CLS concatenated with the mean of every token
  after the CLS, registers included, ``(B, 2D)`` — what eva's "CLS + mean" option
  does for H0-mini (docs/protocols.md); kept as a named setting to reproduce it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

POOLINGS = ("cls", "cls+mean", "cls+mean_incl_registers")


@dataclass(frozen=True)
class EmbeddingContract:
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    patch_size: int
    prefix_tokens: int  # CLS + registers
    pooling: str = "cls"
    embed_dim: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling {self.pooling!r} is not one of {POOLINGS}")
        if self.prefix_tokens < 1:
            raise ValueError("prefix_tokens counts the CLS token, so it is at least 1")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std need one value per RGB channel")

    @property
    def num_registers(self) -> int:
        return self.prefix_tokens - 1

    @property
    def output_dim(self) -> int | None:
        if self.embed_dim is None:
            return None
        return self.embed_dim * (1 if self.pooling == "cls" else 2)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) floats in [0, 1] -> normalised with this model's mean/std."""
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, prefix + N, D) final-norm tokens -> (B, D) or (B, 2D) embedding."""
        return pool_tokens(tokens, self.pooling, self.prefix_tokens)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


def pool_tokens(tokens: torch.Tensor, pooling: str, prefix_tokens: int) -> torch.Tensor:
    """Pool (B, T, D) tokens whose first ``prefix_tokens`` are CLS then registers."""
    if tokens.ndim != 3 or tokens.shape[1] <= prefix_tokens:
        raise ValueError(
            f"expected (B, prefix + N, D) tokens with N > 0, got {tuple(tokens.shape)} "
            f"for {prefix_tokens} prefix tokens"
        )
    cls = tokens[:, 0]
    if pooling == "cls":
        return cls
    if pooling == "cls+mean":
        return torch.cat([cls, tokens[:, prefix_tokens:].mean(dim=1)], dim=-1)
    if pooling == "cls+mean_incl_registers":
        return torch.cat([cls, tokens[:, 1:].mean(dim=1)], dim=-1)
    raise ValueError(f"pooling {pooling!r} is not one of {POOLINGS}")
