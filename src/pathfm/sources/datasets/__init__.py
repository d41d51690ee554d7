"""Public benchmark datasets, one module each: what to download (URLs + checksums, or
manual instructions) and a loader for the real on-disk format with eva's / HEST's /
plismbench's splits.
"""

from pathfm.sources.datasets import (
    bach,
    camelyon16,
    consep,
    crc,
    hest,
    mhist,
    monusac,
    panda,
    pcam,
    plism,
)

DATASETS = {m.NAME: m for m in (bach, crc, mhist, pcam, camelyon16, panda, consep, monusac, plism, hest)}

__all__ = ["DATASETS"]
