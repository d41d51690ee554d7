"""The fixed legend of tissue-type codes used by every synthetic slide.

Later tasks derive CRC-like 9-class datasets from these codes, so the numbers
are part of the data contract: never renumber them.
"""

from __future__ import annotations

LEGEND: dict[int, str] = {
    0: "background",
    1: "adipose",
    2: "debris",
    3: "lymphocytes",
    4: "mucus",
    5: "smooth_muscle",
    6: "normal_mucosa",
    7: "stroma",
    8: "tumour",
    9: "necrosis",
}
CODES: dict[str, int] = {name: code for code, name in LEGEND.items()}
BACKGROUND = 0
TISSUE_CODES: tuple[int, ...] = tuple(c for c in LEGEND if c != BACKGROUND)
TISSUE_NAMES: tuple[str, ...] = tuple(LEGEND[c] for c in TISSUE_CODES)


def code_of(name: str) -> int:
    """Legend code of a tissue-type name; a clear error for an unknown one."""
    try:
        return CODES[name]
    except KeyError:
        raise ValueError(
            f"unknown tissue type {name!r}; the legend has {', '.join(TISSUE_NAMES)}"
        ) from None
