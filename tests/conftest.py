"""Shared fixtures: slides with a known physical geometry, written by the project itself."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from pathfm.wsi.tiff_writer import write_pyramidal_tiff

REPO = Path(__file__).resolve().parents[1]


def geometry_slide(path: Path, mpp: float, *, size_um=(800.0, 600.0), layout="aperio",
                   write_mpp=True, resolution_tags=True) -> Path:
    """White glass with a pink disc of tissue and a dark 50 × 50 µm square at (300, 200) µm.

    Everything is placed in microns, so the same picture appears at the same
    physical place whatever the slide's level-0 mpp.
    """
    w, h = round(size_um[0] / mpp), round(size_um[1] / mpp)
    yy, xx = np.mgrid[0:h, 0:w]
    x_um, y_um = (xx + 0.5) * mpp, (yy + 0.5) * mpp
    rgb = np.full((h, w, 3), 242, np.uint8)
    disc = (x_um - 520) ** 2 + (y_um - 330) ** 2 < 200**2
    rgb[disc] = (214, 120, 170)
    square = (x_um >= 300) & (x_um < 350) & (y_um >= 200) & (y_um < 250)
    rgb[square] = (40, 20, 80)
    return write_pyramidal_tiff(path, rgb, mpp=mpp if write_mpp else None, layout=layout,
                                downsamples=(1, 4, 16), resolution_tags=resolution_tags,
                                jpeg_quality=95)


@pytest.fixture
def make_geometry_slide(tmp_path):
    def make(name: str = "slide.svs", mpp: float = 0.25, **kw) -> Path:
        return geometry_slide(tmp_path / name, mpp, **kw)

    return make


@pytest.fixture
def restore_root_logging():
    """Commands point the root logger at the test's captured stderr (setup_logging with
    force=True); put its handlers and level back afterwards."""
    handlers, level = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)
