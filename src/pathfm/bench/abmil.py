"""Gated-attention ABMIL (Ilse et al. 2018) in eva's layout, for bags of tile embeddings.

eva's ``ABMIL``: optional linear projection of the embeddings (D -> 128), a
gated attention network (tanh branch ⊙ sigmoid branch -> one logit per tile),
softmax over the tiles of a bag, the attention-weighted mean of the projected
embeddings, then an MLP (128 -> 64 -> outputs, ReLU). Padded tiles are masked
with -inf before the softmax so bags of different sizes share a batch.
"""

from __future__ import annotations

import torch
from torch import nn


class GatedAttention(nn.Module):
    """x (B, N, D) -> attention logits (B, N, 1)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, use_bias: bool = True):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(dim, hidden, bias=use_bias), nn.Dropout(dropout), nn.Tanh())
        self.b = nn.Sequential(nn.Linear(dim, hidden, bias=use_bias), nn.Dropout(dropout),
                               nn.Sigmoid())
        self.c = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(self.a(x) * self.b(x))


def mlp(dim_in: int, hidden: tuple[int, ...], dim_out: int, dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(dim_in, h), nn.ReLU(), nn.Dropout(dropout)]
        dim_in = h
    layers.append(nn.Linear(dim_in, dim_out))
    return nn.Sequential(*layers)


class ABMIL(nn.Module):
    """Bags (B, N, D) + mask (B, N) bool (True = real tile) -> outputs (B, output_size).

    ``output_size`` is the number of classes for classification, 1 for a Cox risk.
    """

    def __init__(self, input_size: int, output_size: int, projected_input_size: int | None = 128,
                 hidden_size_attention: int = 128, hidden_sizes_mlp: tuple[int, ...] = (128, 64),
                 use_bias: bool = True, dropout_input: float = 0.0, dropout_attention: float = 0.0,
                 dropout_mlp: float = 0.0):
        super().__init__()
        if projected_input_size:
            self.projector: nn.Module = nn.Sequential(
                nn.Linear(input_size, projected_input_size), nn.Dropout(dropout_input))
            input_size = projected_input_size
        else:
            self.projector = nn.Dropout(dropout_input)
        self.attention = GatedAttention(input_size, hidden_size_attention, dropout_attention, use_bias)
        self.classifier = mlp(input_size, tuple(hidden_sizes_mlp), output_size, dropout_mlp)

    def attend(self, bags: torch.Tensor, mask: torch.Tensor | None = None):
        """-> (pooled (B, d), attention weights (B, N))."""
        h = self.projector(bags)                                   # (B, N, d)
        logits = self.attention(h).squeeze(-1)                     # (B, N)
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(logits, dim=1)                     # (B, N)
        return torch.einsum("bn,bnd->bd", weights, h), weights

    def forward(self, bags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        pooled, _ = self.attend(bags, mask)
        return self.classifier(pooled)


def pad_bags(bags: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """List of (N_i, D) -> (B, max N, D) zero-padded and mask (B, max N), True = real tile."""
    n = max(b.shape[0] for b in bags)
    d = bags[0].shape[1]
    out = bags[0].new_zeros((len(bags), n, d))
    mask = torch.zeros((len(bags), n), dtype=torch.bool)
    for i, b in enumerate(bags):
        out[i, : b.shape[0]] = b
        mask[i, : b.shape[0]] = True
    return out, mask
