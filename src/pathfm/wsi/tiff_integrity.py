"""Cheap structural check of TIFF-based slides before any pixel is read.

openslide opens a truncated SVS happily (the header and IFDs sit at the start)
and fails only when a missing tile is decoded, possibly hours into a job. Every
tile's offset + byte count must lie inside the file; checking that reads only
the IFDs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from pathfm.wsi.errors import SlideTruncatedError

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def is_tiff(path: str | Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) in _TIFF_MAGIC


def check_tiff_complete(path: str | Path) -> None:
    """Raise SlideTruncatedError if any image data of any IFD lies past the end of the file."""
    path = Path(path)
    size = path.stat().st_size
    fix = "Re-download the slide (its md5 will not match) or remove it from the manifest"
    try:
        with tifffile.TiffFile(path) as tif:
            for index, page in enumerate(tif.pages):
                offsets = np.asarray(page.dataoffsets, dtype=np.int64)
                counts = np.asarray(page.databytecounts, dtype=np.int64)
                if offsets.size and int((offsets + counts).max()) > size:
                    raise SlideTruncatedError(
                        path,
                        f"truncated: IFD {index} references bytes up to "
                        f"{int((offsets + counts).max())} but the file has {size}",
                        fix,
                    )
    except SlideTruncatedError:
        raise
    except Exception as exc:  # tifffile raises many types for a cut-off IFD chain
        raise SlideTruncatedError(path, f"unreadable TIFF structure ({exc})", fix) from exc
