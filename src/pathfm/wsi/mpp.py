"""Resolve a slide's level-0 microns per pixel.

Order (DESIGN: exact magnification): openslide's ``openslide.mpp-x``/``-y``, then
the TIFF resolution tags, then the manifest override. ``policy="force"`` lets the
manifest win, for scanners known to write wrong metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pathfm.wsi.errors import MissingMppError

# Anything outside this range is a unit error (cm vs inch, mm), not a microscope.
PLAUSIBLE_MPP = (0.05, 50.0)
_UNIT_TO_UM = {"centimeter": 1e4, "inch": 25400.0}


def _from_openslide(props: Mapping[str, str]) -> float | None:
    x, y = props.get("openslide.mpp-x"), props.get("openslide.mpp-y")
    if not x:
        return None
    x = float(x)
    y = float(y) if y else x
    return (x + y) / 2


def _from_tiff_tags(props: Mapping[str, str]) -> float | None:
    unit = props.get("tiff.ResolutionUnit", "").lower()
    xres = props.get("tiff.XResolution")
    if unit not in _UNIT_TO_UM or not xres or float(xres) <= 0:
        return None
    return _UNIT_TO_UM[unit] / float(xres)


def resolve_mpp(
    path: str | Path,
    props: Mapping[str, str],
    override: float | None = None,
    policy: str = "fallback",
) -> tuple[float, str]:
    """Return ``(mpp, source)`` with source one of openslide, tiff, manifest."""
    if policy not in ("fallback", "force"):
        raise ValueError(f"mpp policy must be 'fallback' or 'force', got {policy!r}")
    candidates: list[tuple[float | None, str]] = [
        (_from_openslide(props), "openslide"),
        (_from_tiff_tags(props), "tiff"),
        (override, "manifest"),
    ]
    if policy == "force" and override is not None:
        candidates = [(override, "manifest")]
    for value, source in candidates:
        if value is None:
            continue
        lo, hi = PLAUSIBLE_MPP
        if not lo <= value <= hi:
            raise MissingMppError(
                path,
                f"implausible mpp {value:.4g} µm/px from {source}",
                "Set the correct level-0 µm/px in the manifest's 'mpp' column "
                "with mpp_policy 'force'",
            )
        return float(value), source
    raise MissingMppError(
        path,
        "no microns-per-pixel in the slide properties, TIFF resolution tags or manifest",
        "Add the level-0 µm/px for this slide in the manifest's 'mpp' column",
    )
