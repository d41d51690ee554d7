"""KoLeo regulariser (Sablayrolles et al. 2019, as in DINOv2).

Kozachenko-Leonenko entropy estimate: push each L2-normalised embedding away
from its nearest neighbour in the batch, spreading features over the sphere.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class KoLeoLoss(nn.Module):
    """forward(x: (B, D)) -> scalar  −mean_i log(‖x̂_i − x̂_nn(i)‖ + eps), x̂ = x/‖x‖.

    Neighbours are found within the local batch (as in DINOv2), so the value
    depends on how a global batch is split across ranks.
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(x.float(), dim=-1, eps=self.eps)
        with torch.no_grad():
            sim = x @ x.t()  # (B, B); the nearest neighbour has the largest cosine
            sim.fill_diagonal_(-2.0)
            nn_idx = sim.argmax(dim=1)
        dist = F.pairwise_distance(x, x[nn_idx], p=2, eps=self.eps)
        return -torch.log(dist + self.eps).mean()
