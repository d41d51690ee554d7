"""iBOT / BEiT block masking of patch grids.

Half of the global crops (``mask_probability``) get a mask; the masked ratio of
each masked crop is spread evenly over [min_ratio, max_ratio] across the batch,
as in DINOv2's collate. Masks are drawn from ``torch``'s RNG (or a given
generator), so checkpointed RNG state makes resumed masks identical.
"""

from __future__ import annotations

import math

import torch


def block_mask(h: int, w: int, num_masked: int, generator: torch.Generator | None = None,
               min_block: int = 4, max_aspect: float = 3.0, max_tries: int = 10) -> torch.Tensor:
    """(h, w) bool mask with about ``num_masked`` True cells, grown as random rectangles."""
    mask = torch.zeros(h, w, dtype=torch.bool)
    log_aspect = (math.log(1 / max_aspect), math.log(max_aspect))

    def rand() -> float:
        return torch.rand((), generator=generator).item()

    count = 0
    while count < num_masked:
        added = 0
        for _ in range(max_tries):
            max_block = num_masked - count
            target = min_block + rand() * (max(max_block, min_block) - min_block)
            aspect = math.exp(log_aspect[0] + rand() * (log_aspect[1] - log_aspect[0]))
            bh = int(round(math.sqrt(target * aspect)))
            bw = int(round(math.sqrt(target / aspect)))
            if 0 < bh <= h and 0 < bw <= w:
                top = int(rand() * (h - bh + 1))
                left = int(rand() * (w - bw + 1))
                region = mask[top:top + bh, left:left + bw]
                new = int((~region).sum())
                if 0 < new <= max_block:
                    region.fill_(True)
                    added = new
                    break
        if added == 0:
            break
        count += added
    return mask


def sample_masks(n_images: int, h: int, w: int, min_ratio: float = 0.1, max_ratio: float = 0.5,
                 mask_probability: float = 0.5, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
    """(n_images, h·w) bool masks; the first ``round(n·p)`` images are masked."""
    n_masked = int(round(n_images * mask_probability))
    ratios = torch.linspace(min_ratio, max_ratio, n_masked + 1)
    masks = torch.zeros(n_images, h * w, dtype=torch.bool)
    for i in range(n_masked):
        lo, hi = ratios[i].item(), ratios[i + 1].item()
        ratio = lo + torch.rand((), generator=generator).item() * (hi - lo)
        masks[i] = block_mask(h, w, int(h * w * ratio), generator).flatten()
    # Shuffle which images are masked, so masking is independent of crop order.
    perm = torch.randperm(n_images, generator=generator)
    return masks[perm]
