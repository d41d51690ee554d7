"""Reading at an exact mpp: mpp resolution order, level choice, physical size of tiles."""

from __future__ import annotations

import numpy as np
import pytest

from pathfm.wsi.errors import MissingMppError
from pathfm.wsi.slide import open_slide


def test_aperio_mpp_comes_from_openslide(make_geometry_slide):
    with open_slide(make_geometry_slide(mpp=0.2431)) as slide:
        assert slide.vendor == "aperio"
        assert slide.mpp_source == "openslide"
        assert slide.mpp == pytest.approx(0.2431, abs=1e-4)
        assert len(slide.levels) >= 3


def test_generic_tiff_mpp_comes_from_resolution_tags(make_geometry_slide):
    path = make_geometry_slide("g.tif", mpp=0.5, layout="generic")
    with open_slide(path) as slide:
        assert slide.vendor == "generic-tiff"
        assert slide.mpp == pytest.approx(0.5, rel=1e-4)
        assert slide.mpp_source in ("openslide", "tiff")


def test_missing_mpp_names_slide_and_manifest_column(make_geometry_slide):
    path = make_geometry_slide("nompp.svs", write_mpp=False)
    with pytest.raises(MissingMppError) as err:
        open_slide(path)
    assert str(path) in str(err.value) and "'mpp' column" in str(err.value)
    with open_slide(path, mpp_override=0.25) as slide:
        assert slide.mpp == 0.25 and slide.mpp_source == "manifest"


def test_override_is_a_fallback_unless_forced(make_geometry_slide):
    path = make_geometry_slide(mpp=0.25)
    with open_slide(path, mpp_override=0.3) as slide:
        assert slide.mpp == pytest.approx(0.25, abs=1e-4)
    with open_slide(path, mpp_override=0.3, mpp_policy="force") as slide:
        assert slide.mpp == 0.3 and slide.mpp_source == "manifest"


def test_level_choice_is_coarsest_at_or_finer(make_geometry_slide):
    with open_slide(make_geometry_slide(mpp=0.25)) as slide:
        # levels at 0.25, 1.0, 4.0 µm/px
        assert slide.level_for_mpp(0.5).index == 0
        assert slide.level_for_mpp(1.0).index == 1
        assert slide.level_for_mpp(3.99).index == 1
        assert slide.level_for_mpp(8.0).index == 2
        assert slide.level_for_mpp(0.1).index == 0  # finer than the scan: upsample level 0


def _dark_extent(tile: np.ndarray) -> tuple[int, int]:
    dark = tile.mean(axis=2) < 100
    cols, rows = np.flatnonzero(dark.any(axis=0)), np.flatnonzero(dark.any(axis=1))
    return cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1


@pytest.mark.parametrize("target", [0.5, 1.0])
def test_tile_covers_same_physical_size_across_scanner_mpps(make_geometry_slide, target):
    """The 50 µm square spans 50/target px whatever the slide's level-0 mpp."""
    extents = {}
    for mpp in (0.23, 0.25, 0.263):
        with open_slide(make_geometry_slide(f"s{mpp}.svs", mpp=mpp)) as slide:
            x0, y0 = 250 / slide.mpp, 150 / slide.mpp  # top-left at (250, 150) µm
            tile = slide.read_region_mpp(x0, y0, 224, 224, target)
            assert tile.shape == (224, 224, 3)
            extents[mpp] = _dark_extent(tile)
    expected = 50 / target
    for w, h in extents.values():
        assert abs(w - expected) <= 1.5 and abs(h - expected) <= 1.5, extents


def test_outside_the_slide_reads_white(make_geometry_slide):
    with open_slide(make_geometry_slide(mpp=0.25)) as slide:
        w, _ = slide.dimensions
        tile = slide.read_region_mpp(w - 10, 0, 64, 64, 0.5)
        assert tile[:, 10:].min() >= 250


def test_whole_slide_read_has_physical_shape(make_geometry_slide):
    with open_slide(make_geometry_slide(mpp=0.24)) as slide:
        thumb = slide.read_whole_mpp(8.0)
    assert thumb.shape[:2] == (round(600 / 8.0), round(800 / 8.0))
