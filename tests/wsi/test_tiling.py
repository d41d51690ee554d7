"""Tile grids at exact mpp, tissue fractions against brute force, and the tile store."""

from __future__ import annotations

import numpy as np
import pytest

from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import mask_slide
from pathfm.wsi.slide import grid_count, open_slide
from pathfm.wsi.tile_slide import tile_slide
from pathfm.wsi.tile_store import open_tile_store
from pathfm.wsi.tiling import TilingParams, tile_grid, tissue_fraction_boxes


def test_tissue_fraction_matches_brute_force_on_pixel_aligned_boxes():
    rng = np.random.default_rng(0)
    mask = rng.random((40, 50)) > 0.6
    x0 = np.array([0.0, 8.0, 30.0, 44.0])
    y0 = np.array([0.0, 4.0, 20.0, 34.0])
    frac = tissue_fraction_boxes(mask, 2.0, x0 * 2, y0 * 2, 12.0)  # 6 mask px boxes
    for f, x, y in zip(frac, x0.astype(int), y0.astype(int)):
        assert f == pytest.approx(mask[y:y + 6, x:x + 6].mean(), abs=1e-6)


def test_tissue_fraction_of_fractional_boxes():
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True
    # a box from x = 4.5 to 5.5 mask px covers half tissue
    frac = tissue_fraction_boxes(mask, 1.0, np.array([4.5]), np.array([2.0]), 1.0)
    assert frac[0] == pytest.approx(0.5, abs=1e-6)


def test_grid_count():
    assert grid_count(1000, 200.0, 200.0) == 5
    assert grid_count(999, 200.0, 200.0) == 4
    assert grid_count(1000, 200.0, 100.0) == 9
    assert grid_count(100, 200.0, 200.0) == 0


def test_grid_spacing_is_physical():
    mask = np.ones((100, 100), bool)
    params = TilingParams(mpp=0.5, tile_px=100, stride_px=100, min_tissue=0.5)
    grid = tile_grid((4000, 4000), 0.25, mask, 10.0, params)
    xs = np.unique(grid.coords_px[:, 0])
    assert np.all(np.diff(xs) == 200) and grid.tile_l0 == 200.0


def test_tiling_params_reject_unknown_keys():
    with pytest.raises(ValueError, match="tile_size"):
        TilingParams.from_dict({"mpp": 0.5, "tile_size": 224})


@pytest.mark.parametrize("with_pixels", [False, True])
def test_tile_store_round_trip(make_geometry_slide, tmp_path, with_pixels):
    slide_path = make_geometry_slide(mpp=0.25)
    mask_dir = tmp_path / "mask"
    mask_slide(slide_path, mask_dir, MaskParams(mpp=4.0), slide_id="s")
    params = TilingParams(mpp=0.5, tile_px=64, stride_px=64, min_tissue=0.9, pixels=with_pixels)
    out = tmp_path / "s.zarr"
    summary = tile_slide(slide_path, mask_dir, out, params, slide_id="s")
    store = open_tile_store(out)
    coords = store["coords_px"][:]
    assert summary["n_tiles"] == len(coords) > 0
    assert store.attrs["target_mpp"] == 0.5 and store.attrs["tile_px"] == 64
    assert store.attrs["level_read"] == 0
    np.testing.assert_allclose(store["coords_um"][:], coords * 0.25, rtol=1e-4)
    # every kept tile centre lies inside the pink disc (centre (520, 330) µm, r 200), up to
    # the mask's edge tolerance of two mask pixels (8 µm: blur and mixed boundary pixels)
    centre_um = store["coords_um"][:] + 16
    dist = np.hypot(centre_um[:, 0] - 520, centre_um[:, 1] - 330)
    assert dist.max() < 208, dist.max()
    assert np.all(store["tissue_fraction"][:] >= 0.9)
    if with_pixels:
        pixels = store["pixels"]
        assert pixels.shape == (len(coords), 64, 64, 3)
        with open_slide(slide_path) as slide:
            x, y = coords[3]
            np.testing.assert_array_equal(pixels[3], slide.read_region_mpp(x, y, 64, 64, 0.5))
    else:
        assert "pixels" not in store
