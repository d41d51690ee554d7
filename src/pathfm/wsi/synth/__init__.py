"""Synthetic H&E whole-slide images with ground truth, for the demo cohort and tests.

One slide is built in three deterministic steps from (seed, params):

1. :func:`slide_layout` (:func:`make_layout` with the seed's mpp and stream) —
   tissue pieces and tissue-type regions (no colour);
2. :func:`synthesize_tissue` — paints hematoxylin/eosin amounts at cell scale and
   adds artefacts (fold, pen, bubble);
3. :func:`render` — Beer–Lambert staining and a scanner model to RGB.

:func:`synthesize_slide` runs all three and writes the pyramidal TIFF and the
truth maps. Rendering one :class:`SynthTissue` under several
:class:`StainParams` / :class:`ScannerParams` gives pixel-aligned restainings.
"""

from pathfm.wsi.synth.layout import Layout, make_layout
from pathfm.wsi.synth.legend import CODES, LEGEND, TISSUE_CODES, TISSUE_NAMES
from pathfm.wsi.synth.params import ARTEFACTS, DEFAULT_TISSUE_MIX, SynthParams
from pathfm.wsi.synth.render import render
from pathfm.wsi.synth.scanner import ScannerParams
from pathfm.wsi.synth.slide import synthesize_slide
from pathfm.wsi.synth.stain import REFERENCE_HE_MATRIX, StainParams
from pathfm.wsi.synth.tissue import SynthTissue, draw_mpp, slide_layout, synthesize_tissue
from pathfm.wsi.synth.truth import truth_maps

__all__ = [
    "ARTEFACTS",
    "CODES",
    "DEFAULT_TISSUE_MIX",
    "LEGEND",
    "REFERENCE_HE_MATRIX",
    "TISSUE_CODES",
    "TISSUE_NAMES",
    "Layout",
    "ScannerParams",
    "StainParams",
    "SynthParams",
    "SynthTissue",
    "draw_mpp",
    "make_layout",
    "render",
    "slide_layout",
    "synthesize_slide",
    "synthesize_tissue",
    "truth_maps",
]
