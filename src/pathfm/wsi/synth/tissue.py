"""A synthetic slide's content before it meets a stain and a scanner."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pathfm.wsi.synth.artefacts import Overlay, add_fold, make_bubble, make_pen
from pathfm.wsi.synth.layout import Layout, make_layout
from pathfm.wsi.synth.paint import paint_layout
from pathfm.wsi.synth.noise import stream
from pathfm.wsi.synth.params import SynthParams

# Keys of the random streams drawn from a slide's seed (see noise.stream).
STREAM_MPP = 0
STREAM_LAYOUT = 1
STREAM_ARTEFACTS = 3


@dataclass
class SynthTissue:
    """Everything physical about one slide: where the tissue is, how much stain
    it holds, and what lies on the glass. Render it with :func:`render`.

    Attributes:
        seed: the slide's seed.
        layout: tissue geometry, level-0 tissue mask and label map.
        h, e: (H, W) float32 level-0 hematoxylin and eosin amounts.
        overlays: pen ink, bubble rim (extra optical density on the glass).
        artefacts: one record per artefact: type, level-0 bbox, details.
    """

    seed: int
    layout: Layout
    h: np.ndarray
    e: np.ndarray
    overlays: list[Overlay] = field(default_factory=list)
    artefacts: list[dict] = field(default_factory=list)

    @property
    def mpp(self) -> float:
        return self.layout.mpp

    @property
    def shape(self) -> tuple[int, int]:
        return self.layout.shape


def draw_mpp(seed: int, params: SynthParams) -> float:
    """Level-0 mpp of a slide: ``params.mpp``, or drawn from ``mpp_range`` by the
    seed; rounded to 4 decimals as an Aperio description records it."""
    if params.mpp is not None:
        return round(float(params.mpp), 4)
    lo, hi = params.mpp_range
    return round(float(stream(seed, STREAM_MPP).uniform(lo, hi)), 4)


def slide_layout(seed: int, params: SynthParams) -> Layout:
    """The tissue layout of slide ``seed``: its mpp, tissue pieces and type regions.

    Depends only on (seed, params' size, mpp, pieces, mix and region scale),
    never on artefacts, stain or scanner.
    """
    return make_layout(params, draw_mpp(seed, params), stream(seed, STREAM_LAYOUT))


def synthesize_tissue(seed: int, params: SynthParams) -> SynthTissue:
    """Lay out, paint and add artefacts to one slide; deterministic in (seed, params)."""
    layout = slide_layout(seed, params)
    h, e = paint_layout(layout, seed)
    tissue = SynthTissue(seed, layout, h, e)
    for i, kind in enumerate(params.artefacts):
        rng = stream(seed, STREAM_ARTEFACTS, i)
        if kind == "fold":
            rec = add_fold(h, e, layout, rng)
            if rec is not None:
                tissue.artefacts.append(rec)
        else:
            made = (make_pen if kind == "pen" else make_bubble)(layout, rng)
            if made is not None:
                tissue.overlays.append(made[0])
                tissue.artefacts.append(made[1])
    return tissue
