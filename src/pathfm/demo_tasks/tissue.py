"""Render a small synthetic section at an exact mpp and cut patches from it.

Patches are cut from level-0 pixels of a section rendered *at* the target mpp
(``SynthParams.mpp``), so no resampling is involved and every patch comes with
its pixel-exact tissue-type map (legend of :mod:`pathfm.wsi.synth.legend`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pathfm.wsi.synth import SynthParams, render, synthesize_tissue
from pathfm.wsi.synth.legend import LEGEND


@dataclass
class Section:
    """rgb: (H, W, 3) uint8; labels: (H, W) uint8 legend codes (0 = background); mpp: µm/px."""

    rgb: np.ndarray
    labels: np.ndarray
    mpp: float


def render_section(seed: int, mpp: float, size_um: float, mix: dict[str, float] | None = None,
                   tissue_fraction: float = 0.7, region_scale_um: float = 220.0) -> Section:
    """One square section of ``size_um`` at ``mpp``, no artefacts; deterministic in the arguments."""
    kw = {"tissue_mix": mix} if mix else {}
    params = SynthParams(width_um=size_um, height_um=size_um, mpp=mpp, artefacts=(), n_pieces=1,
                         tissue_fraction=tissue_fraction, region_scale_um=region_scale_um, **kw)
    tissue = synthesize_tissue(seed, params)
    return Section(render(tissue, seed=seed), tissue.layout.labels.copy(), tissue.mpp)


def type_fractions(labels: np.ndarray) -> np.ndarray:
    """(h, w) codes -> (len(LEGEND),) share of each code."""
    return np.bincount(labels.ravel(), minlength=len(LEGEND)) / labels.size


def grid_patches(section: Section, size_px: int, stride_px: int | None = None):
    """Yield (y, x, rgb (s, s, 3), labels (s, s)) on a regular grid."""
    stride = stride_px or size_px
    H, W = section.labels.shape
    for y in range(0, H - size_px + 1, stride):
        for x in range(0, W - size_px + 1, stride):
            yield (y, x, section.rgb[y:y + size_px, x:x + size_px],
                   section.labels[y:y + size_px, x:x + size_px])


def random_patches(section: Section, size: tuple[int, int], n: int, rng: np.random.Generator,
                   min_tissue: float = 0.5, max_tries: int = 50):
    """Up to ``n`` patches of (h, w) px at random positions with ≥ ``min_tissue`` tissue."""
    h, w = size
    H, W = section.labels.shape
    out = []
    for _ in range(n * max_tries):
        if len(out) == n:
            break
        y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        lab = section.labels[y:y + h, x:x + w]
        if (lab > 0).mean() >= min_tissue:
            out.append((y, x, section.rgb[y:y + h, x:x + w], lab))
    return out
