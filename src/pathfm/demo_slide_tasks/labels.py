"""Slide labels and survival derived from the rendered tissue content.

Each demo slide is a small synthetic section whose tissue mix is drawn from a
class-free prior (some slides with no tumour, others with a little or a lot);
the labels are then read from the *rendered* tissue-type map, not from the mix,
so they describe what a tile-level model can actually see:

- ``metastasis`` (Camelyon16-like, binary): tumour covers ≥ ``min_tumour`` of the tissue.
- ``grade`` (PANDA-like, 0–3): tumour share of tissue binned at 5 %, 20 %, 40 %.
- survival: exponential event time with log hazard
  ``2.5·tumour + 2.0·necrosis − 1.5·lymphocytes`` (shares of tissue),
  independent exponential censoring; event = death observed before censoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pathfm.wsi.synth.legend import CODES

# Base mixes: tumour weight varies from none to dominant.
MIXES = {
    "normal": {"normal_mucosa": 0.45, "stroma": 0.3, "adipose": 0.15, "lymphocytes": 0.1},
    "low": {"normal_mucosa": 0.35, "stroma": 0.3, "tumour": 0.1, "lymphocytes": 0.15,
            "adipose": 0.1},
    "high": {"tumour": 0.45, "stroma": 0.25, "necrosis": 0.15, "lymphocytes": 0.05,
             "normal_mucosa": 0.1},
}
GRADE_EDGES = (0.05, 0.20, 0.40)


@dataclass
class SlideTruth:
    """Shares of tissue (0–1) of the types that drive the labels."""

    tumour: float
    necrosis: float
    lymphocytes: float

    @classmethod
    def from_labels(cls, labels: np.ndarray) -> SlideTruth:
        """(H, W) legend codes -> shares of the tissue (background excluded)."""
        tissue = max(1, int((labels > 0).sum()))
        share = lambda name: float((labels == CODES[name]).sum() / tissue)  # noqa: E731
        return cls(share("tumour"), share("necrosis"), share("lymphocytes"))


def sample_mix(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    """A base mix, jittered so tumour extent varies continuously across slides."""
    name = str(rng.choice(list(MIXES)))
    mix = {k: float(v * rng.uniform(0.6, 1.4)) for k, v in MIXES[name].items()}
    return name, mix


def metastasis_label(t: SlideTruth, min_tumour: float = 0.02) -> int:
    return int(t.tumour >= min_tumour)


def grade_label(t: SlideTruth) -> int:
    return int(np.searchsorted(GRADE_EDGES, t.tumour, side="right"))


def survival_times(truths: list[SlideTruth], seed: int, base_hazard: float = 0.1,
                   censor_rate: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """-> (observed time (N,), event (N,) int); months-like units."""
    rng = np.random.default_rng(seed)
    log_h = np.array([2.5 * t.tumour + 2.0 * t.necrosis - 1.5 * t.lymphocytes for t in truths])
    t_event = rng.exponential(1.0 / (base_hazard * np.exp(log_h)))
    t_cens = rng.exponential(1.0 / censor_rate, len(truths))
    return np.minimum(t_event, t_cens), (t_event <= t_cens).astype(int)
