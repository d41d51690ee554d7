"""Beer–Lambert H&E stain model: stain densities to optical density to RGB.

A pixel holds two stain amounts (hematoxylin ``h``, eosin ``e``, unitless, ~0-2).
Its optical density in channel c is ``h * M[0, c] * h_scale + e * M[1, c] * e_scale``
(plus any overlay such as pen ink), and its transmitted intensity is
``I0 * exp(-OD)``. ``M`` defaults to the reference H&E stain vectors that
Macenko et al. (2009) stain normalisation maps every slide to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Rows: hematoxylin, eosin; columns: optical density in R, G, B per unit stain.
REFERENCE_HE_MATRIX: tuple[tuple[float, float, float], ...] = (
    (0.5626, 0.7201, 0.4062),
    (0.2159, 0.8012, 0.5581),
)


@dataclass(frozen=True)
class StainParams:
    """How the tissue's stain amounts turn into colour.

    Attributes:
        matrix: 2 rows (hematoxylin, eosin) of optical density in R, G, B per
            unit of stain. Different labs' stainings differ mostly here.
        h_scale: multiplier of the hematoxylin amount (staining time/strength).
        e_scale: multiplier of the eosin amount.
    """

    matrix: tuple[tuple[float, float, float], ...] = REFERENCE_HE_MATRIX
    h_scale: float = 1.0
    e_scale: float = 1.0

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, dtype=float)
        if m.shape != (2, 3) or not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ValueError(
                f"stain matrix must be 2 rows (H, E) of 3 non-negative OD values, got {self.matrix!r}"
            )
        if self.h_scale < 0 or self.e_scale < 0:
            raise ValueError("stain h_scale and e_scale must be >= 0")
        object.__setattr__(self, "matrix", tuple(tuple(float(v) for v in r) for r in m))

    def od_vectors(self) -> np.ndarray:
        """(2, 3) float32: OD per unit of h and of e, scales applied."""
        m = np.asarray(self.matrix, dtype=np.float32)
        return m * np.array([[self.h_scale], [self.e_scale]], dtype=np.float32)


def optical_density(
    h: np.ndarray, e: np.ndarray, stain: StainParams
) -> np.ndarray:
    """(H, W, 3) float32 optical density of stain amounts ``h``, ``e`` (H, W)."""
    v = stain.od_vectors()
    od = np.empty((*h.shape, 3), dtype=np.float32)
    for c in range(3):
        np.multiply(h, v[0, c], out=od[..., c])
        od[..., c] += e * v[1, c]
    return od


def od_to_rgb(od: np.ndarray, illumination: float | np.ndarray = 255.0) -> np.ndarray:
    """Beer–Lambert transmission: ``illumination * exp(-od)``, float32, same
    shape as ``od``; overwrites ``od`` to spare a copy."""
    np.negative(od, out=od)
    np.exp(od, out=od)
    od *= illumination
    return od
