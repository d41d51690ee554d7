"""Matched tiling: two slides with a known warp give tiles of the same tissue, same ids."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from pathfm.wsi.plism_tiles import MatchedTilingParams, reference_grid, write_matched_stores
from pathfm.wsi.registration import RegistrationParams, register_images, save_transform
from pathfm.wsi.slide import open_slide
from pathfm.wsi.synth.scanner import ScannerParams
from pathfm.wsi.synth.stain import StainParams
from pathfm.wsi.synth_plism import KnownWarp, punch_scene, render_warped
from pathfm.wsi.tiff_writer import write_pyramidal_tiff
from pathfm.wsi.tile_store import open_tile_store

SIZE_UM = 512.0
DENSITY_MPP = 0.25
PARAMS = MatchedTilingParams(tile_px=48, target_mpp=0.5, min_tissue=0.9)
WARP = KnownWarp(matrix=((0.99, -0.1), (0.1, 0.99)), centre=(256.0, 256.0),
                 translation=(14.0, -9.0), elastic_amplitude=(4.0, 3.0))


@pytest.fixture(scope="module")
def plism_pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plism")
    rng = np.random.default_rng(3)
    h, e = punch_scene(rng, (SIZE_UM, SIZE_UM), DENSITY_MPP, np.array([[256.0, 256.0]]), 180.0)
    ref_mpp, mov_mpp = 0.5, 0.25  # two scanners at different resolutions
    ref = render_warped(h, e, DENSITY_MPP, KnownWarp(), (1024, 1024), ref_mpp, StainParams(),
                        ScannerParams(blur_um=0.0))
    mov = render_warped(h, e, DENSITY_MPP, WARP, (2048, 2048), mov_mpp,
                        StainParams(h_scale=1.3, e_scale=0.8),
                        ScannerParams(illumination=232.0, gain=(1.0, 0.95, 1.04), blur_um=0.3))
    ref_path = write_pyramidal_tiff(tmp / "GMH_S60.svs", ref, mpp=ref_mpp, jpeg_quality=95)
    mov_path = write_pyramidal_tiff(tmp / "GV_AT2.svs", mov, mpp=mov_mpp, jpeg_quality=95)
    # register thumbnails at 2 µm/px, as the workflow does
    with open_slide(ref_path) as rs, open_slide(mov_path) as ms:
        transform, _ = register_images(
            rs.read_whole_mpp(2.0), 2.0, ms.read_whole_mpp(2.0), 2.0,
            RegistrationParams(shrink=(4, 2, 1), smooth=(2.0, 1.0, 0.0), rigid_iterations=150,
                               affine_iterations=150, bspline_shrink=(1,),
                               bspline_smooth=(0.0,), bspline_iterations=40, threads=2))
    tfm = tmp / "transforms" / "GV_AT2.tfm"
    save_transform(transform, tfm)
    out = tmp / "tiles"
    summary = write_matched_stores(
        ref_path, {"GMH_S60": (ref_path, sitk.Transform(2, sitk.sitkIdentity)),
                   "GV_AT2": (mov_path, tfm)}, out, PARAMS, reference_id="GMH_S60")
    return out, summary, mov_mpp


def _grey(tiles):
    g = tiles.astype(np.float32).mean(-1)
    g -= g.mean(axis=(1, 2), keepdims=True)
    return g / (np.linalg.norm(g, axis=(1, 2), keepdims=True) + 1e-6)


def test_matched_tiles_share_ids_and_content(plism_pair):
    out, summary, mov_mpp = plism_pair
    ref = open_tile_store(out / "GMH_S60.zarr")
    mov = open_tile_store(out / "GV_AT2.zarr")
    assert summary["n_tiles"] > 100
    np.testing.assert_array_equal(ref["tile_id"][:], mov["tile_id"][:])
    assert ref.attrs["reference_slide_id"] == mov.attrs["reference_slide_id"] == "GMH_S60"
    assert mov.attrs["transform"].endswith("GV_AT2.tfm")
    assert mov["pixels"].shape == (summary["n_tiles"], 48, 48, 3)
    ga, gb = _grey(ref["pixels"][:]), _grey(mov["pixels"][:])
    matched = (ga * gb).sum(axis=(1, 2))
    shuffled = (ga * np.roll(gb, 1, axis=0)).sum(axis=(1, 2))
    print(f"grey correlation: matched median {np.median(matched):.3f}, "
          f"shuffled {np.median(shuffled):.3f}")
    assert np.median(matched) > 0.85 and np.percentile(matched, 5) > 0.6
    assert np.median(shuffled) < 0.3
    # the stored box is centred on the ground-truth position of the tile in the moving slide
    centres = ref["reference_centre_um"][:]
    true_x, true_y = WARP.reference_to_moving(centres[:, 0], centres[:, 1])
    box_centre_um = (mov["coords_px"][:] * mov_mpp) + PARAMS.tile_um / 2
    err_px = np.hypot(box_centre_um[:, 0] - true_x, box_centre_um[:, 1] - true_y) / 0.5
    assert np.median(err_px) < 2.0


def test_reference_grid_ids_are_row_major():
    centres, ids = reference_grid((100.0, 50.0), 24.0)
    assert centres.shape == (8, 2) and list(ids) == list(range(8))
    np.testing.assert_allclose(centres[5], (36.0, 36.0))


def test_render_plism_set_writes_slides_and_ground_truth(tmp_path):
    from pathfm.wsi.synth_plism import KnownWarp, render_plism_set

    truth = render_plism_set(tmp_path, ["GMH", "GV"], ["S60", "AT2"], rows=1, cols=2,
                             punch_radius_um=60.0, pitch_um=150.0, margin_um=30.0, mpp=1.0,
                             density_mpp=1.0)
    assert sorted(truth["slides"]) == ["GMH_AT2", "GMH_S60", "GV_AT2", "GV_S60"]
    assert truth["slides"]["GMH_S60"]["warp"]["translation"] == [0.0, 0.0]
    moved = KnownWarp(**{k: v if not isinstance(v, list) else tuple(map(
        lambda x: tuple(x) if isinstance(x, list) else x, v))
        for k, v in truth["slides"]["GV_AT2"]["warp"].items()})
    assert moved != KnownWarp() and moved.elastic_amplitude[0] > 0
    with open_slide(truth["slides"]["GV_AT2"]["path"]) as s:
        assert s.mpp == pytest.approx(1.0) and s.dimensions == (360, 210)
        ref = open_slide(truth["slides"]["GMH_S60"]["path"])
        a, b = s.read_whole_mpp(1.0), ref.read_whole_mpp(1.0)
        ref.close()
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 5  # colour and geometry differ
    assert (tmp_path / "ground_truth.json").exists()
