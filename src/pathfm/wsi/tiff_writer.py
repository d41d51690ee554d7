"""Write an RGB image as a JPEG-tiled pyramidal TIFF that OpenSlide reads.

Two layouts:

- ``"aperio"``: what an Aperio ``.svs`` looks like to OpenSlide (vendor ``aperio``):
  level 0 carries an ``Aperio Image Library`` ImageDescription with ``MPP`` and
  ``AppMag``, directory 1 is a stripped thumbnail (OpenSlide's associated image
  ``thumbnail``), then the reduced levels.
- ``"generic"``: a plain tiled TIFF (vendor ``generic-tiff``); mpp can only come
  from the X/YResolution tags there.

Every level is a top-level IFD, because OpenSlide ignores SubIFDs.
"""

from __future__ import annotations

import math
import os
import struct
import uuid
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import tifffile

LAYOUTS = ("aperio", "generic")
_APERIO_HEADER = "Aperio Image Library v12.0.16"
# Aperio thumbnails are roughly this size on their long side.
_THUMBNAIL_MAX_SIDE = 1024


def level_shapes(
    height: int, width: int, downsamples: Sequence[int]
) -> list[tuple[int, int]]:
    """(height, width) in px of each pyramid level: level-0 size / downsample, rounded, >= 1."""
    return [
        (max(1, round(height / d)), max(1, round(width / d))) for d in downsamples
    ]


def _check_args(rgb: np.ndarray, mpp, layout, downsamples, tile, jpeg_quality) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"write_pyramidal_tiff needs an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}"
        )
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if mpp is not None and not (math.isfinite(mpp) and mpp > 0):
        raise ValueError(f"mpp must be a positive number or None, got {mpp!r}")
    ds = list(downsamples)
    if not ds or ds[0] != 1 or any(b <= a for a, b in zip(ds, ds[1:])):
        raise ValueError(
            f"downsamples must start at 1 and increase strictly, got {tuple(ds)}"
        )
    if any(int(d) != d for d in ds):
        raise ValueError(f"downsamples must be integers, got {tuple(ds)}")
    # JPEG with 2x2 chroma subsampling needs tiles in multiples of 16 px.
    if tile < 16 or tile % 16:
        raise ValueError(f"tile must be a positive multiple of 16, got {tile}")
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be in [1, 100], got {jpeg_quality}")


def _resize_area(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if img.shape[:2] == (h, w):
        return img
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


# X/YResolution and ResolutionUnit: tifffile always writes them (1/1, no unit).
_RESOLUTION_TAGS = frozenset({282, 283, 296})


def _drop_tags(path: Path, codes: frozenset[int]) -> None:
    """Remove IFD entries with these tag codes from every top-level IFD, in place.

    Each IFD is rewritten shorter where it stands (entries stay sorted, the
    next-IFD offset follows the last entry); values stored elsewhere are left
    as unreferenced bytes, which TIFF allows.
    """
    with open(path, "r+b") as f:
        head = f.read(16)
        bo = "<" if head[:2] == b"II" else ">"
        big = struct.unpack(bo + "H", head[2:4])[0] == 43
        cnt_fmt, cnt_size, ent_size, off_fmt = (
            ("Q", 8, 20, "Q") if big else ("H", 2, 12, "I")
        )
        offset = struct.unpack(bo + off_fmt, head[8:16] if big else head[4:8])[0]
        while offset:
            f.seek(offset)
            n = struct.unpack(bo + cnt_fmt, f.read(cnt_size))[0]
            entries = [f.read(ent_size) for _ in range(n)]
            nxt = f.read(struct.calcsize(off_fmt))
            kept = [e for e in entries if struct.unpack(bo + "H", e[:2])[0] not in codes]
            f.seek(offset)
            f.write(struct.pack(bo + cnt_fmt, len(kept)) + b"".join(kept) + nxt)
            offset = struct.unpack(bo + off_fmt, nxt)[0]


def _aperio_description(
    width: int, height: int, tile: int, quality: int, mpp, app_mag
) -> str:
    fields = [
        f"{_APERIO_HEADER} \r\n{width}x{height} [0,0 {width}x{height}] "
        f"({tile}x{tile}) JPEG/RGB Q={quality}"
    ]
    if mpp is not None:
        fields.append(f"MPP = {mpp:.4f}")
    if app_mag is not None:
        fields.append(f"AppMag = {app_mag:g}")
    fields.append("Filename = synthetic")
    return "|".join(fields)


def write_pyramidal_tiff(
    path: str | os.PathLike,
    rgb: np.ndarray,
    *,
    mpp: float | None,
    layout: str = "aperio",
    downsamples: Sequence[int] = (1, 4, 16),
    tile: int = 256,
    jpeg_quality: int = 90,
    app_mag: float | None = 40,
    resolution_tags: bool = True,
    thumbnail: bool = True,
) -> Path:
    """Write ``rgb`` as a JPEG-tiled pyramidal TIFF, atomically.

    Args:
        path: output file (``.svs`` or ``.tif``); its folder must exist.
        rgb: (H, W, 3) uint8 level-0 image.
        mpp: level-0 microns per pixel, or None to write a slide that records no
            mpp at all (no ``MPP`` in the description, no X/YResolution or
            ResolutionUnit tags).
        layout: ``"aperio"`` or ``"generic"`` (see the module docstring).
        downsamples: integer level downsamples, starting at 1. Levels are
            area-averaged (``cv2.INTER_AREA``) from the level above; a level's size
            is level-0 size / downsample, rounded.
        tile: tile edge in px (multiple of 16).
        jpeg_quality: JPEG quality of every tile, 1-100.
        app_mag: objective power written as ``AppMag`` (Aperio layout only); None
            leaves it out.
        resolution_tags: write X/YResolution in pixels per centimetre on every
            level; when False (or ``mpp`` is None) the file has no resolution
            tags at all.
        thumbnail: add the stripped thumbnail IFD (Aperio layout only).

    Returns:
        ``Path(path)``. Identical inputs give byte-identical files.
    """
    _check_args(rgb, mpp, layout, downsamples, tile, jpeg_quality)
    path = Path(path)
    height, width = rgb.shape[:2]
    shapes = level_shapes(height, width, downsamples)
    levels = [np.ascontiguousarray(rgb)]
    for shape in shapes[1:]:
        levels.append(_resize_area(levels[-1], shape))

    def resolution(level_shape):
        if mpp is None or not resolution_tags:
            return {}
        # Pixels per cm of this level, from its exact size ratio to level 0.
        sx = width / level_shape[1]
        sy = height / level_shape[0]
        return {
            "resolution": (1e4 / (mpp * sx), 1e4 / (mpp * sy)),
            "resolutionunit": "CENTIMETER",
        }

    jpeg = {"compression": "jpeg", "compressionargs": {"level": int(jpeg_quality)}}
    common = {"photometric": "rgb", "metadata": None, **jpeg}
    # A unique name beside the target (same filesystem, so os.replace is atomic);
    # unlike mkstemp it gets the usual permissions.
    tmp_name = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        bigtiff = rgb.nbytes > 2**31
        with tifffile.TiffWriter(tmp_name, bigtiff=bigtiff) as tw:
            desc0 = (
                _aperio_description(width, height, tile, jpeg_quality, mpp, app_mag)
                if layout == "aperio"
                else None
            )
            tw.write(
                levels[0], tile=(tile, tile), description=desc0,
                **resolution(shapes[0]), **common,
            )
            if layout == "aperio" and thumbnail:
                factor = max(1, math.ceil(max(height, width) / _THUMBNAIL_MAX_SIDE))
                tshape = (max(1, round(height / factor)), max(1, round(width / factor)))
                thumb = _resize_area(levels[0], tshape)
                tw.write(
                    thumb,
                    rowsperstrip=16 * math.ceil(tshape[0] / 16),
                    description=(
                        f"{_APERIO_HEADER} \r\n{width}x{height} -> "
                        f"{tshape[1]}x{tshape[0]} - "
                    ),
                    **common,
                )
            for shape, level in zip(shapes[1:], levels[1:]):
                desc = (
                    f"{_APERIO_HEADER} \r\n{width}x{height} [0,0 {width}x{height}] "
                    f"({tile}x{tile}) -> {shape[1]}x{shape[0]} JPEG/RGB Q={jpeg_quality}"
                    if layout == "aperio"
                    else None
                )
                # OpenSlide's generic-tiff reader takes only directories flagged
                # as reduced-resolution images as levels beyond the first.
                tw.write(
                    level, tile=(tile, tile), description=desc, subfiletype=1,
                    **resolution(shape), **common,
                )
        if mpp is None or not resolution_tags:
            # Leave no resolution a reader could mistake for a pixel size.
            _drop_tags(tmp_name, _RESOLUTION_TAGS)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
