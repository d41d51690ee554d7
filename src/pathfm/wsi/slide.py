"""Slides opened through openslide and read at an exact physical resolution.

Tiles are defined by microns per pixel, never by level index: a read at target
mpp ``t`` uses the coarsest pyramid level whose mpp is at or finer than ``t``
and resizes to it, so slides scanned at 0.23 and 0.26 µm/px give tiles of the
same physical size.

Every pixel read goes through :meth:`Slide._read_region`: a tile openslide cannot
decode (a damaged download, a bad scan) raises :class:`SlideReadError` naming the
file, the level, the region and the fix, instead of openslide's bare "Bogus marker
length". openslide ≥ 4 turns libjpeg's "Corrupt JPEG data" warnings into errors too,
so a damaged tile fails rather than returning wrong pixels. A handle that failed once
stays in an error state (every later call repeats the error), so it is replaced by a
fresh one and the Slide stays usable for the regions that do decode.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import openslide

from pathfm.wsi.errors import SlideOpenError, SlideReadError
from pathfm.wsi.mpp import resolve_mpp
from pathfm.wsi.tiff_integrity import check_tiff_complete, is_tiff

# A level counts as "at or finer" when within 0.1 % of the target, so that a
# level at exactly 0.5 µm/px serves a 0.5 µm/px read despite float rounding.
_LEVEL_TOLERANCE = 1e-3
# Edge of a decode-check read when openslide reports no tile size for a level, and
# the largest one (a format reporting whole-width strips must not make a check costly).
_DEFAULT_TILE_PX = 256
_MAX_CHECK_PX = 512


def corrupt_slide_fix(path: str | Path) -> str:
    """What to do about a slide whose pixel data does not decode."""
    return (f"The file is damaged (an interrupted or corrupted download or copy): delete it "
            f"(rm {shlex.quote(str(path))}) and rerun, which downloads (or re-creates) it again and checks it "
            f"against the md5 in the manifest; if a fresh copy whose md5 matches fails the same "
            f"way, the source file itself is corrupt: remove the slide from the manifest")


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
        self._osr: openslide.OpenSlide | None = handle
        self._reopen_error: Exception | None = None
        self.mpp = mpp
        self.mpp_source = mpp_source
        self.vendor = handle.properties.get("openslide.vendor", "unknown")
        self.dimensions: tuple[int, int] = handle.dimensions
        self.levels = [
            LevelInfo(i, float(ds), mpp * float(ds), handle.level_dimensions[i])
            for i, ds in enumerate(handle.level_downsamples)
        ]
        # (width, height) of a decode-check read per level: one stored tile.
        self._tile_sizes = [
            tuple(min(_MAX_CHECK_PX, int(handle.properties.get(
                f"openslide.level[{i}].tile-{side}", _DEFAULT_TILE_PX)))
                for side in ("width", "height"))
            for i in range(len(self.levels))
        ]

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._osr is not None:
            self._osr.close()

    def _reopen(self) -> None:
        """Replace a handle left in openslide's error state by a fresh one.

        The old handle is dropped, not closed: another thread may still be inside a
        call on it, and openslide-python closes it once the last reference goes.
        """
        try:
            self._osr = openslide.OpenSlide(str(self.path))
        except openslide.OpenSlideError as exc:
            self._osr = None
            self._reopen_error = exc

    def _read_region(self, location: tuple[int, int], level: int, size: tuple[int, int],
                     purpose: str = "") -> np.ndarray:
        """openslide's read_region as an H×W×4 array; a decode failure is a SlideReadError."""
        x, y = int(location[0]), int(location[1])
        w, h = int(size[0]), int(size[1])
        lv = self.levels[level]
        where = (f"level {level} ({lv.downsample:g}x downsample, {lv.mpp:.4g} µm/px) in the "
                 f"region of {w} x {h} level-{level} px whose top-left is level-0 (x, y) = "
                 f"({x}, {y})")
        if self._osr is None:
            raise SlideReadError(self.path, f"cannot read {where}: an earlier read failed and "
                                 f"the file no longer opens ({self._reopen_error})",
                                 corrupt_slide_fix(self.path))
        try:
            return np.asarray(self._osr.read_region((x, y), level, (w, h)))
        except openslide.OpenSlideError as exc:
            self._reopen()
            note = f", found by {purpose}" if purpose else ""
            raise SlideReadError(self.path, f"corrupt pixel data: {where} does not decode "
                                 f"(openslide: {exc}){note}",
                                 corrupt_slide_fix(self.path)) from exc

    def check_decodes(self, points_l0: Sequence[tuple[float, float]],
                      levels: Iterable[int] | None = None, *, purpose: str = "") -> int:
        """Decode one stored tile's worth of pixels around each level-0 point on each level.

        Raises SlideReadError naming the first level and region that does not
        decode. Returns the number of reads. Each read is a tile-sized window
        centred on the point, so it touches at most four stored tiles.
        """
        levels = range(len(self.levels)) if levels is None else levels
        n = 0
        for index in levels:
            lv = self.levels[index]
            tw, th = self._tile_sizes[index]
            for px, py in points_l0:
                # Top-left in level-0 px of a tw x th window (level px) centred on the point.
                x0 = max(0, round(px - tw * lv.downsample / 2))
                y0 = max(0, round(py - th * lv.downsample / 2))
                self._read_region((x0, y0), index, (tw, th), purpose)
                n += 1
        return n

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
        rgba = self._read_region((int(round(x0)), int(round(y0))), level.index, (read_w, read_h))
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
