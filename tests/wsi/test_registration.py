"""Registration recovers a known affine + elastic warp under a stain and scanner change."""

from __future__ import annotations

import numpy as np
import pytest

from pathfm.wsi.registration import (
    RegistrationParams,
    load_transform,
    map_points,
    register_images,
    registration_channel,
    save_transform,
    target_registration_error,
    write_qc_png,
)
from pathfm.wsi.synth.scanner import ScannerParams
from pathfm.wsi.synth.stain import StainParams
from pathfm.wsi.synth_plism import KnownWarp, punch_scene, render_warped

SIZE_UM = 512.0
IMAGE_MPP = 2.0      # registration images: 256 × 256 px
DENSITY_MPP = 0.5
TILE_MPP = 0.5       # TRE is reported in pixels of 0.5 µm/px tiles
FAST = RegistrationParams(shrink=(4, 2, 1), smooth=(2.0, 1.0, 0.0), rigid_iterations=150,
                          affine_iterations=150, bspline_shrink=(1,), bspline_smooth=(0.0,),
                          bspline_iterations=40, threads=1)  # one thread: repeatable

WARP = KnownWarp(
    matrix=((1.03 * np.cos(0.12), -1.03 * np.sin(0.12) + 0.03),
            (1.03 * np.sin(0.12), 1.03 * np.cos(0.12))),
    centre=(256.0, 256.0), translation=(22.0, -17.0), elastic_amplitude=(6.0, 5.0))


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(7)
    h, e = punch_scene(rng, (SIZE_UM, SIZE_UM), DENSITY_MPP, np.array([[256.0, 256.0]]), 190.0)
    shape = (int(SIZE_UM / IMAGE_MPP),) * 2
    ref = render_warped(h, e, DENSITY_MPP, KnownWarp(), shape, IMAGE_MPP, StainParams(),
                        ScannerParams(blur_um=0.0))
    stain = StainParams(matrix=((0.45, 0.75, 0.25), (0.2, 0.85, 0.45)), h_scale=1.3,
                        e_scale=0.7)
    scanner = ScannerParams(illumination=230.0, gain=(1.0, 0.93, 1.05), gamma=1.2, blur_um=0.5)
    mov = render_warped(h, e, DENSITY_MPP, WARP, shape, IMAGE_MPP, stain, scanner)
    # ground-truth pairs: a grid of moving points on tissue, mapped to the reference
    g = np.arange(100.0, 420.0, 16.0)
    my, mx = (a.ravel() for a in np.meshgrid(g, g, indexing="ij"))
    rx, ry = WARP.moving_to_reference(mx, my)
    on_tissue = np.hypot(rx - 256, ry - 256) < 165
    ref_pts = np.stack([rx, ry], 1)[on_tissue]
    mov_pts = np.stack([mx, my], 1)[on_tissue]
    return ref, mov, ref_pts, mov_pts


@pytest.fixture(scope="module")
def registered(pair):
    ref, mov, _, _ = pair
    return register_images(ref, IMAGE_MPP, mov, IMAGE_MPP, FAST)


def test_known_warp_inverse_is_exact():
    x, y = np.meshgrid(np.linspace(0, 500, 7), np.linspace(0, 500, 9))
    mx, my = WARP.reference_to_moving(x, y)
    bx, by = WARP.moving_to_reference(mx, my)
    np.testing.assert_allclose(np.stack([bx, by]), np.stack([x, y]), atol=1e-6)


def test_registration_brings_tre_below_two_tile_pixels(pair, registered):
    ref, mov, ref_pts, mov_pts = pair
    transform, info = registered
    assert len(ref_pts) > 150
    before = np.median(np.linalg.norm(ref_pts - mov_pts, axis=1)) / TILE_MPP
    tre = target_registration_error(transform, ref_pts, mov_pts, tile_mpp=TILE_MPP)
    print(f"TRE before {before:.1f} px, after {tre}")
    assert before > 40                       # the task starts far off
    assert tre["median_px"] <= 2.0
    assert tre["p95_px"] <= 5.0
    assert {"rigid", "affine", "bspline"} <= info.keys()


def test_affine_alone_is_not_enough(pair, registered):
    """The B-spline stage matters: the composite's affine part leaves elastic error."""
    _, _, ref_pts, mov_pts = pair
    transform, _ = registered
    affine = transform.GetNthTransform(0)
    tre_affine = target_registration_error(affine, ref_pts, mov_pts, tile_mpp=TILE_MPP)
    tre_full = target_registration_error(transform, ref_pts, mov_pts, tile_mpp=TILE_MPP)
    print(f"TRE affine only {tre_affine}")
    assert tre_full["median_px"] < tre_affine["median_px"]


def test_transform_roundtrip_and_qc(tmp_path, pair, registered):
    ref, mov, ref_pts, _ = pair
    transform, _ = registered
    path = tmp_path / "tfm" / "GV_AT2.tfm"
    save_transform(transform, path)
    loaded = load_transform(path)
    np.testing.assert_allclose(map_points(loaded, ref_pts), map_points(transform, ref_pts),
                               atol=1e-6)
    with pytest.raises(ValueError, match=".tfm"):
        save_transform(transform, tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError, match="registration step"):
        load_transform(tmp_path / "missing.tfm")
    qc = tmp_path / "qc.png"
    write_qc_png(ref, IMAGE_MPP, mov, IMAGE_MPP, transform, qc)
    assert qc.stat().st_size > 1000 and not list(tmp_path.glob(".*part*"))


def test_channels():
    rgb = np.full((4, 4, 3), 255, np.uint8)
    rgb[1:3, 1:3] = (60, 40, 140)  # a nucleus-coloured patch on glass
    for channel in ("grey", "haematoxylin"):
        img = registration_channel(rgb, channel)
        assert img.shape == (4, 4) and img[1, 1] > img[0, 0]
    with pytest.raises(ValueError):
        RegistrationParams(channel="red")


def test_one_thread_repeats_bit_for_bit_and_restores_itk_threads(pair, registered):
    import SimpleITK as sitk

    ref, mov, ref_pts, _ = pair
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    again, info = register_images(ref, IMAGE_MPP, mov, IMAGE_MPP, FAST)
    assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == before
    np.testing.assert_array_equal(map_points(again, ref_pts),
                                  map_points(registered[0], ref_pts))
    assert info["affine"]["kept"] is True


def test_a_diverged_affine_stage_is_dropped_for_the_rigid_result(monkeypatch, pair):
    import pathfm.wsi.registration as registration

    real_run = registration._run

    def affine_ends_worse(reg, fixed, moving, info, stage):
        real_run(reg, fixed, moving, info, stage)
        if stage == "affine":
            info[stage]["metric"] = info["rigid"]["metric"] + 0.1

    monkeypatch.setattr(registration, "_run", affine_ends_worse)
    ref, mov, _, _ = pair
    transform, info = register_images(ref, IMAGE_MPP, mov, IMAGE_MPP, FAST)
    assert info["affine"]["kept"] is False
    # the B-spline then starts from the rigid pose: a pure rotation, no scale or shear
    matrix = np.array(transform.GetNthTransform(0).GetMatrix()).reshape(2, 2)
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(2), atol=1e-9)
