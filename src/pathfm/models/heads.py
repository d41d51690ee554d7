"""DINO / iBOT projection heads.

MLP -> bottleneck -> L2-normalise -> prototypes. DINO uses a weight-normalised
last layer whose norm ``g`` is frozen at 1; that is exactly a linear layer whose
rows are L2-normalised at every forward, which is how it is written here (no
deprecated ``weight_norm`` hook, plain parameter names in checkpoints).
The same class serves as the iBOT head (a separate instance, or the DINO head
shared, as configured by the SSL task).

With many prototypes (H0-mini: 131,072) the (rows, K) scores are never formed:
the chunked losses (``pathfm.losses.chunked_prototype_ce``) take the two factors,
``features(x)`` and ``normalized_prototypes()``, and ``emitting_features`` makes a
head return the features from ``forward`` where a wrapper (the student network,
DDP) calls it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F


class DINOHead(nn.Module):
    """forward(x: (..., in_dim)) -> logits (..., out_dim), each a cosine to a prototype.

    Layers: ``nlayers`` linear layers (GELU between) ending in ``bottleneck_dim``;
    with ``nlayers == 1`` the MLP is a single linear map to the bottleneck.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 2048,
                 bottleneck_dim: int = 256, nlayers: int = 3):
        super().__init__()
        nlayers = max(nlayers, 1)
        if nlayers == 1:
            layers: list[nn.Module] = [nn.Linear(in_dim, bottleneck_dim)]
        else:
            layers = [nn.Linear(in_dim, hidden_dim), nn.GELU()]
            for _ in range(nlayers - 2):
                layers += [nn.Linear(hidden_dim, hidden_dim), nn.GELU()]
            layers.append(nn.Linear(hidden_dim, bottleneck_dim))
        self.mlp = nn.Sequential(*layers)
        self.prototypes = nn.Parameter(torch.empty(out_dim, bottleneck_dim))
        # A plain attribute, so checkpoints and EMA copies are unaffected; set by
        # ``emitting_features``.
        self.emit_features = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.prototypes, std=0.02)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_dim) -> L2-normalised bottleneck output (..., bottleneck_dim)."""
        return F.normalize(self.mlp(x), dim=-1, eps=1e-6)

    def normalized_prototypes(self) -> torch.Tensor:
        """(out_dim, bottleneck_dim) prototypes with unit rows (differentiable)."""
        # weight_norm with g == 1 frozen: each prototype row has unit norm.
        return F.normalize(self.prototypes, dim=-1, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x)
        if self.emit_features:
            return z
        return F.linear(z, self.normalized_prototypes())


@contextlib.contextmanager
def emitting_features(*heads: DINOHead | None) -> Iterator[None]:
    """Inside, each given head's ``forward`` returns ``features(x)`` instead of scores.

    A network that calls its heads (``StudentTeacherNet``, possibly DDP-wrapped) then
    outputs bottleneck features; the caller takes ``normalized_prototypes()`` itself.
    ``None`` entries (an absent iBOT head) are skipped; previous modes are restored.
    """
    active = [h for h in dict.fromkeys(heads) if h is not None]
    before = [h.emit_features for h in active]
    for h in active:
        h.emit_features = True
    try:
        yield
    finally:
        for h, mode in zip(active, before):
            h.emit_features = mode
