"""Parameters of one synthetic slide, with their defaults and validation."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pathfm.wsi.synth.legend import TISSUE_NAMES, code_of
from pathfm.wsi.synth.scanner import ScannerParams
from pathfm.wsi.synth.stain import StainParams
from pathfm.wsi.tiff_writer import LAYOUTS

ARTEFACTS = ("pen", "bubble", "fold")

# Roughly what a colorectal resection section shows; every type present so a
# default slide exercises the whole legend.
DEFAULT_TISSUE_MIX: dict[str, float] = {
    "adipose": 0.09,
    "debris": 0.05,
    "lymphocytes": 0.10,
    "mucus": 0.07,
    "smooth_muscle": 0.12,
    "normal_mucosa": 0.12,
    "stroma": 0.15,
    "tumour": 0.22,
    "necrosis": 0.08,
}


@dataclass(frozen=True)
class SynthParams:
    """Everything that shapes a synthetic slide besides its seed.

    Attributes:
        width_um, height_um: physical size of the scanned area in µm.
        mpp_range: (low, high) level-0 µm per pixel; the slide's mpp is drawn
            uniformly from it by the seed and rounded to 4 decimals, as an Aperio
            description records it.
        mpp: fixed level-0 mpp instead of drawing one.
        record_mpp: write the mpp into the slide; False makes a slide that, like
            some real scans, records none (the truth still has it).
        n_pieces: number of separate tissue pieces on the glass.
        tissue_fraction: fraction of the scanned area covered by tissue, about.
        tissue_mix: relative area of each tissue type (legend names); types with
            weight 0 or left out do not appear.
        region_scale_um: typical size in µm of a region of one tissue type.
        artefacts: which of "pen", "bubble", "fold" to add.
        jpeg_quality: JPEG quality of the slide's tiles.
        downsamples: pyramid downsamples, starting at 1, at least 3 levels.
        truth_mpp: µm per pixel of the ground-truth maps.
        layout: TIFF layout, "aperio" (default) or "generic".
        stain: the H&E staining (see :class:`StainParams`).
        scanner: the scanner (see :class:`ScannerParams`).
    """

    width_um: float = 2000.0
    height_um: float = 1400.0
    mpp_range: tuple[float, float] = (0.23, 0.26)
    mpp: float | None = None
    record_mpp: bool = True
    n_pieces: int = 3
    tissue_fraction: float = 0.3
    tissue_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TISSUE_MIX))
    region_scale_um: float = 220.0
    artefacts: tuple[str, ...] = ARTEFACTS
    jpeg_quality: int = 90
    downsamples: tuple[int, ...] = (1, 4, 16)
    truth_mpp: float = 8.0
    layout: str = "aperio"
    stain: StainParams = field(default_factory=StainParams)
    scanner: ScannerParams = field(default_factory=ScannerParams)

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"SynthParams.{name}: {why}, got {getattr(self, name)!r}")

        for name in ("width_um", "height_um", "region_scale_um", "truth_mpp"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise bad(name, "must be a positive number")
        if min(self.width_um, self.height_um) < 100:
            raise bad("width_um", "slides smaller than 100 µm on a side are not supported")
        lo_hi = tuple(float(v) for v in self.mpp_range)
        if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1]:
            raise bad("mpp_range", "must be (low, high) with 0 < low <= high")
        object.__setattr__(self, "mpp_range", lo_hi)
        if self.mpp is not None and not self.mpp > 0:
            raise bad("mpp", "must be positive or null")
        if int(self.n_pieces) != self.n_pieces or self.n_pieces < 1:
            raise bad("n_pieces", "must be an integer >= 1")
        if not 0.05 <= self.tissue_fraction <= 0.8:
            raise bad("tissue_fraction", "must be in [0.05, 0.8]")
        mix = {}
        for name, w in dict(self.tissue_mix).items():
            code_of(name)
            if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
                raise bad("tissue_mix", f"weight of {name!r} must be >= 0")
            if w > 0:
                mix[name] = float(w)
        if not mix:
            raise bad("tissue_mix", "needs at least one tissue type with a positive weight")
        # Legend order, so the same mix written in any key order is the same slide.
        object.__setattr__(self, "tissue_mix", {n: mix[n] for n in TISSUE_NAMES if n in mix})
        arts = tuple(self.artefacts)
        unknown = sorted(set(arts) - set(ARTEFACTS))
        if unknown:
            raise bad("artefacts", f"unknown artefact(s) {unknown}; choose from {ARTEFACTS}")
        object.__setattr__(self, "artefacts", tuple(a for a in ARTEFACTS if a in arts))
        if not 1 <= int(self.jpeg_quality) <= 100:
            raise bad("jpeg_quality", "must be in [1, 100]")
        ds = tuple(int(d) for d in self.downsamples)
        if len(ds) < 3 or ds[0] != 1 or any(b <= a for a, b in zip(ds, ds[1:])):
            raise bad("downsamples", "must start at 1, increase, and give at least 3 levels")
        object.__setattr__(self, "downsamples", ds)
        if self.layout not in LAYOUTS:
            raise bad("layout", f"must be one of {LAYOUTS}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> SynthParams:
        """Build from a plain mapping (JSON/YAML); nested ``stain``/``scanner`` are mappings too.

        Raises:
            ValueError: naming any unknown key and listing the valid ones.
        """
        values = dict(values or {})
        _reject_unknown(cls, values, "SynthParams")
        for key, sub in (("stain", StainParams), ("scanner", ScannerParams)):
            if key in values and isinstance(values[key], Mapping):
                inner = dict(values[key])
                _reject_unknown(sub, inner, f"SynthParams.{key}")
                values[key] = sub(**{k: _tuples(v) for k, v in inner.items()})
        for key in ("mpp_range", "artefacts", "downsamples"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` turns back into equal params."""
        return _lists(dataclasses.asdict(self))


def _reject_unknown(cls: type, values: Mapping[str, Any], what: str) -> None:
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(
            f"{what}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"valid keys are {', '.join(known)}"
        )


def _tuples(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_tuples(x) for x in v)
    return v


def _lists(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _lists(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_lists(x) for x in v]
    return v
