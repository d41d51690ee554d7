"""Patch readers for online patching: one interface, two back ends.

``PatchReader.read_patch(x0, y0, size_px, target_mpp) -> (size_px, size_px, 3) uint8``
reads the square whose level-0 top-left is (x0, y0) from the coarsest pyramid
level at or finer than ``target_mpp`` and resizes it to ``size_px`` — the same
rule as :meth:`pathfm.wsi.slide.Slide.read_region_mpp`. Two back ends:

- ``OpenSlideReader``: libopenslide's ``read_region`` (any vendor format).
- ``ZarrReader``: the TIFF's tiled pages exposed as lazy Zarr arrays by
  tifffile (``TiffPage.aszarr``, opened with zarr 3), read chunk by chunk
  through an LRU chunk cache, as kaiko's online patching reads SVS files as
  Zarr (Section IV-B). Works for tiled TIFF/SVS pyramids only.

Readers hold open file handles, so they are created inside the process that
uses them (each DataLoader worker opens its own; see ``online_patching``).
The level-0 mpp is resolved once, when the slide index is built, and passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from pathfm.wsi.errors import SlideReadError

# Same tolerance as pathfm.wsi.slide: a level within 0.1 % of the target serves it.
_LEVEL_TOLERANCE = 1e-3
READERS = ("openslide", "zarr")


def _undecodable(path: Path, level: int, x: int, y: int, w: int, h: int,
                 exc: Exception) -> SlideReadError:
    # Imported here: pathfm.wsi.slide pulls in openslide, which a Zarr-only run may lack.
    from pathfm.wsi.slide import corrupt_slide_fix

    return SlideReadError(path, f"corrupt pixel data: level {level}, the {w} x {h} px region at "
                          f"level-{level} (x, y) = ({x}, {y}), does not decode "
                          f"({type(exc).__name__}: {exc})", corrupt_slide_fix(path))


def level_for_mpp(level_mpps: list[float], target_mpp: float) -> int:
    """Index of the coarsest level whose mpp is at or finer than ``target_mpp``
    (level 0 when the target asks for more detail than the scan holds)."""
    if target_mpp <= 0:
        raise ValueError(f"target mpp must be positive, got {target_mpp}")
    usable = [i for i, m in enumerate(level_mpps) if m <= target_mpp * (1 + _LEVEL_TOLERANCE)]
    return max(usable, key=lambda i: level_mpps[i]) if usable else 0


def resize_patch(rgb: np.ndarray, size_px: int) -> np.ndarray:
    """Resize an H×W×3 read to size_px² (area averaging down, bicubic up), as Slide does."""
    if rgb.shape[:2] == (size_px, size_px):
        return rgb
    interp = cv2.INTER_AREA if rgb.shape[0] > size_px else cv2.INTER_CUBIC
    return cv2.resize(rgb, (size_px, size_px), interpolation=interp)


class PatchReader:
    """Base class: level choice and resizing; back ends implement ``read_level``."""

    downsamples: list[float]  # per level, level-0 px per level px
    mpp: float  # level-0 µm/px

    @property
    def level_mpps(self) -> list[float]:
        return [self.mpp * d for d in self.downsamples]

    def read_level(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """h×w×3 uint8 RGB of ``level`` with top-left (x, y) in that level's pixels;
        outside the image is white."""
        raise NotImplementedError

    def read_patch(self, x0: float, y0: float, size_px: int, target_mpp: float) -> np.ndarray:
        level = level_for_mpp(self.level_mpps, target_mpp)
        ds = self.downsamples[level]
        read_px = max(1, round(size_px * target_mpp / self.level_mpps[level]))
        rgb = self.read_level(level, int(round(x0 / ds)), int(round(y0 / ds)), read_px, read_px)
        return resize_patch(rgb, size_px)

    def close(self) -> None:
        pass


class OpenSlideReader(PatchReader):
    def __init__(self, path: str | Path, mpp: float):
        import openslide

        self.path = Path(path)
        self._osr = openslide.OpenSlide(str(path))
        self._error = openslide.OpenSlideError
        self.mpp = float(mpp)
        self.downsamples = [float(d) for d in self._osr.level_downsamples]

    def read_level(self, level, x, y, w, h):
        ds = self.downsamples[level]
        try:
            rgba = np.asarray(self._osr.read_region((int(round(x * ds)), int(round(y * ds))),
                                                    level, (w, h)))
        except self._error as exc:
            raise _undecodable(self.path, level, x, y, w, h, exc) from exc
        rgb, alpha = rgba[..., :3], rgba[..., 3:4]
        if alpha.min() == 255:
            return np.ascontiguousarray(rgb)
        # openslide returns premultiplied RGBA, alpha 0 outside the scanned area.
        out = rgb.astype(np.float32) + 255.0 * (1.0 - alpha.astype(np.float32) / 255.0)
        return np.clip(out, 0, 255).astype(np.uint8)

    def close(self):
        self._osr.close()


def _tiff_levels(tf) -> list:
    """Pyramid levels of a TIFF, largest first: tifffile's series levels when it knows
    the layout, else every tiled page (SVS thumbnails, labels and macros are stripped)."""
    series = tf.series[0]
    if len(series.levels) > 1:
        return [lv.keyframe for lv in series.levels]
    pages = [p for p in tf.pages if p.is_tiled and p.samplesperpixel >= 3]
    return sorted(pages, key=lambda p: -p.shape[0] * p.shape[1])


class ZarrReader(PatchReader):
    """Lazy Zarr view of a tiled TIFF pyramid with an LRU cache of decoded chunks."""

    def __init__(self, path: str | Path, mpp: float, cache_mb: float = 64.0):
        import tifffile
        import zarr

        self.path = Path(path)
        self._tf = tifffile.TiffFile(str(path))
        pages = _tiff_levels(self._tf)
        if not pages:
            self._tf.close()
            raise ValueError(f"{path}: no tiled pages; the zarr reader needs a tiled TIFF/SVS "
                             f"pyramid (use reader: openslide for this format)")
        self._arrays = [zarr.open(p.aszarr(), mode="r") for p in pages]
        w0 = self._arrays[0].shape[1]
        h0 = self._arrays[0].shape[0]
        # openslide's downsample: the mean of the width and height ratios.
        self.downsamples = [(w0 / a.shape[1] + h0 / a.shape[0]) / 2 for a in self._arrays]
        self.mpp = float(mpp)
        self._cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._cache_bytes, self._cache_max = 0, int(cache_mb * 2**20)
        self.hits = self.misses = 0

    def _chunk(self, level: int, cy: int, cx: int) -> np.ndarray:
        key = (level, cy, cx)
        if key in self._cache:
            self.hits += 1
            self._cache.move_to_end(key)
            return self._cache[key]
        self.misses += 1
        arr = self._arrays[level]
        ch, cw = arr.chunks[:2]
        try:
            data = np.asarray(arr[cy * ch:(cy + 1) * ch, cx * cw:(cx + 1) * cw])[..., :3]
        except Exception as exc:  # the codec's own error types vary (imagecodecs, zlib…)
            raise _undecodable(self.path, level, cx * cw, cy * ch, cw, ch, exc) from exc
        self._cache[key] = data
        self._cache_bytes += data.nbytes
        while self._cache_bytes > self._cache_max and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= old.nbytes
        return data

    def read_level(self, level, x, y, w, h):
        arr = self._arrays[level]
        height, width = arr.shape[:2]
        ch, cw = arr.chunks[:2]
        out = np.full((h, w, 3), 255, np.uint8)
        x_lo, x_hi = max(x, 0), min(x + w, width)
        y_lo, y_hi = max(y, 0), min(y + h, height)
        if x_lo >= x_hi or y_lo >= y_hi:
            return out
        for cy in range(y_lo // ch, (y_hi - 1) // ch + 1):
            for cx in range(x_lo // cw, (x_hi - 1) // cw + 1):
                chunk = self._chunk(level, cy, cx)
                # Overlap of this chunk with the request, in level pixels.
                ya, yb = max(y_lo, cy * ch), min(y_hi, cy * ch + chunk.shape[0])
                xa, xb = max(x_lo, cx * cw), min(x_hi, cx * cw + chunk.shape[1])
                out[ya - y:yb - y, xa - x:xb - x] = chunk[ya - cy * ch:yb - cy * ch,
                                                          xa - cx * cw:xb - cx * cw]
        return out

    def close(self):
        self._cache.clear()
        self._tf.close()


def open_reader(kind: str, path: str | Path, mpp: float, cache_mb: float = 64.0) -> PatchReader:
    """A reader of ``kind`` (openslide | zarr) for the slide at ``path`` with level-0 ``mpp``."""
    if kind == "openslide":
        return OpenSlideReader(path, mpp)
    if kind == "zarr":
        return ZarrReader(path, mpp, cache_mb)
    raise ValueError(f"reader {kind!r} is not one of {READERS}")
