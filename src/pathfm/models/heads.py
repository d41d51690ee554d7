"""DINO / iBOT projection heads.

MLP -> bottleneck -> L2-normalise -> prototypes. DINO uses a weight-normalised
last layer whose norm ``g`` is frozen at 1; that is exactly a linear layer whose
rows are L2-normalised at every forward, which is how it is written here (no
deprecated ``weight_norm`` hook, plain parameter names in checkpoints).
The same class serves as the iBOT head (a separate instance, or the DINO head
shared, as configured by the SSL task).
"""

from __future__ import annotations

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
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.prototypes, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.mlp(x), dim=-1, eps=1e-6)
        # weight_norm with g == 1 frozen: each prototype row has unit norm.
        return F.linear(x, F.normalize(self.prototypes, dim=-1, eps=1e-6))
