"""Slides opened through openslide and read at an exact physical resolution.

Tiles are defined by microns per pixel, never by level index: a read at target
mpp ``t`` uses the coarsest pyramid level whose mpp is at or finer than ``t``
and resizes to it, so slides scanned at 0.23 and 0.26 µm/px give tiles of the
same physical size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import openslide

from pathfm.wsi.errors import SlideOpenError
from pathfm.wsi.mpp import resolve_mpp
from pathfm.wsi.tiff_integrity import check_tiff_complete, is_tiff

# A level counts as "at or finer" when within 0.1 % of the target, so that a
# level at exactly 0.5 µm/px serves a 0.5 µm/px read despite float rounding.
_LEVEL_TOLERANCE = 1e-3


@dataclass(frozen=True)
class LevelInfo:
    index: int
    downsample: float
    mpp: float
    size: tuple[int, int]  # (width, height) in pixels of that level


class Slide:
    """A whole-slide image with a known level-0 mpp. Use :func:`open_slide`."""

    def __init__(self, path: Path, handle: openslide.OpenSlide, mpp: float, mpp_source: str,
                 slide_id: str) -> None:
        self.path = path
        self.slide_id = slide_id
        self._osr = handle
        self.mpp = mpp
        self.mpp_source = mpp_source
        self.vendor = handle.properties.get("openslide.vendor", "unknown")
        self.dimensions: tuple[int, int] = handle.dimensions
        self.levels = [
            LevelInfo(i, float(ds), mpp * float(ds), handle.level_dimensions[i])
            for i, ds in enumerate(handle.level_downsamples)
        ]

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._osr.close()

    @property
    def size_um(self) -> tuple[float, float]:
        return self.dimensions[0] * self.mpp, self.dimensions[1] * self.mpp

    def level_for_mpp(self, target_mpp: float) -> LevelInfo:
        """The coarsest level whose mpp is at or finer than ``target_mpp``."""
        if target_mpp <= 0:
            raise ValueError(f"target mpp must be positive, got {target_mpp}")
        usable = [lv for lv in self.levels if lv.mpp <= target_mpp * (1 + _LEVEL_TOLERANCE)]
        if not usable:
            # Asking for more detail than the scan holds: upsample level 0.
            return self.levels[0]
        return max(usable, key=lambda lv: lv.mpp)

    def read_region_mpp(self, x0: float, y0: float, width: int, height: int,
                        target_mpp: float) -> np.ndarray:
        """Read ``width × height`` pixels at ``target_mpp`` whose top-left is level-0 (x0, y0).

        Returns H×W×3 uint8 RGB; areas outside the slide are white. The region's
        physical size is exactly ``width · target_mpp`` µm up to half a pixel of
        the level read.
        """
        level = self.level_for_mpp(target_mpp)
        scale = target_mpp / level.mpp  # level pixels per output pixel (≥ 1 unless upsampling)
        read_w = max(1, round(width * scale))
        read_h = max(1, round(height * scale))
        rgba = np.asarray(self._osr.read_region((int(round(x0)), int(round(y0))), level.index,
                                                (read_w, read_h)))
        rgb = _composite_on_white(rgba)
        if (read_w, read_h) == (width, height):
            return rgb
        interp = cv2.INTER_AREA if scale > 1 else cv2.INTER_CUBIC
        return cv2.resize(rgb, (width, height), interpolation=interp)

    def read_whole_mpp(self, target_mpp: float) -> np.ndarray:
        """The whole slide at ``target_mpp`` (for masks and thumbnails)."""
        width = max(1, round(self.dimensions[0] * self.mpp / target_mpp))
        height = max(1, round(self.dimensions[1] * self.mpp / target_mpp))
        return self.read_region_mpp(0, 0, width, height, target_mpp)

    def describe(self) -> dict:
        return {
            "slide_id": self.slide_id,
            "path": str(self.path),
            "vendor": self.vendor,
            "mpp": self.mpp,
            "mpp_source": self.mpp_source,
            "dimensions": list(self.dimensions),
            "levels": [{"index": lv.index, "downsample": lv.downsample, "mpp": lv.mpp,
                        "size": list(lv.size)} for lv in self.levels],
        }


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """openslide returns premultiplied RGBA with alpha 0 outside the scanned area."""
    rgb = rgba[..., :3]
    alpha = rgba[..., 3:4]
    if alpha.min() == 255:
        return np.ascontiguousarray(rgb)
    a = alpha.astype(np.float32) / 255.0
    out = rgb.astype(np.float32) + 255.0 * (1.0 - a)
    return np.clip(out, 0, 255).astype(np.uint8)


def open_slide(path: str | Path, *, mpp_override: float | None = None,
               mpp_policy: str = "fallback", slide_id: str | None = None) -> Slide:
    """Open a slide, verify its structure and resolve its level-0 mpp.

    Raises SlideOpenError (not a slide), SlideTruncatedError (file cut short) or
    MissingMppError (no mpp anywhere), each naming the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise SlideOpenError(path, "file not found", "Check the manifest's 'path' column")
    if path.stat().st_size == 0:
        raise SlideOpenError(path, "empty file", "Re-download or re-create the slide")
    if is_tiff(path):
        check_tiff_complete(path)
    try:
        handle = openslide.OpenSlide(str(path))
    except openslide.OpenSlideUnsupportedFormatError as exc:
        raise SlideOpenError(
            path, "not a whole-slide image openslide can read",
            "Check that the file is a slide (SVS/TIFF/NDPI/MRXS…), not a renamed file",
        ) from exc
    except openslide.OpenSlideError as exc:
        raise SlideOpenError(path, f"openslide cannot open it ({exc})",
                             "Re-download the slide") from exc
    try:
        mpp, source = resolve_mpp(path, handle.properties, mpp_override, mpp_policy)
    except Exception:
        handle.close()
        raise
    return Slide(path, handle, mpp, source, slide_id or path.stem)


def physical_tile_px(tile_px: int, target_mpp: float, slide_mpp: float) -> float:
    """Level-0 pixels spanned by a tile of ``tile_px`` pixels at ``target_mpp``."""
    return tile_px * target_mpp / slide_mpp


def grid_count(extent_px: int, tile_l0: float, stride_l0: float) -> int:
    """Number of whole tiles of size ``tile_l0`` at stride ``stride_l0`` fitting in ``extent_px``."""
    if extent_px < tile_l0:
        return 0
    return int(math.floor((extent_px - tile_l0) / stride_l0 + 1e-9)) + 1
