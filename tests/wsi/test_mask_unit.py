"""Mask algorithm on controlled images: pen ink, holes, dust, determinism, polygons."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pathfm.wsi.mask import MaskParams, compute_mask, iou
from pathfm.wsi.mask_slide import mask_slide
from pathfm.wsi.polygons import geojson_to_polygons, mask_to_polygons


def _scene():
    rng = np.random.default_rng(1)
    # glass noise of an area-averaged low-resolution read (each pixel averages many scan pixels)
    img = np.clip(rng.normal(240, 1.0, (200, 300, 3)), 0, 255).astype(np.uint8)
    truth = np.zeros((200, 300), bool)
    cv2.circle(truth.view(np.uint8), (110, 100), 60, 1, -1)
    truth = truth.view(np.uint8).astype(bool)
    img[truth] = (200, 110, 170)
    lumen = np.zeros_like(truth)
    cv2.circle(lumen.view(np.uint8), (110, 100), 20, 1, -1)
    img[lumen.view(np.uint8).astype(bool)] = (238, 236, 240)  # large lumen, kept as a hole
    truth &= ~lumen.view(np.uint8).astype(bool)
    cv2.line(img, (220, 20), (280, 180), (30, 90, 200), 6)  # blue pen on glass
    img[5:7, 5:7] = (150, 60, 120)  # a speck of dust
    return img, truth


def test_mask_finds_tissue_and_ignores_pen_and_dust():
    img, truth = _scene()
    params = MaskParams(mpp=4.0, max_hole_area_um2=4000.0, min_tissue_area_um2=2000.0)
    mask = compute_mask(img, params)
    assert iou(mask, truth) > 0.95
    assert not mask[:, 210:].any(), "pen ink counted as tissue"
    assert not mask[:10, :10].any(), "dust kept"


def test_otsu_variant_runs_and_agrees():
    img, truth = _scene()
    mask = compute_mask(img, MaskParams(method="otsu", mpp=4.0, max_hole_area_um2=4000.0))
    assert iou(mask, truth) > 0.9


def test_unknown_mask_parameter_is_named():
    with pytest.raises(ValueError, match="sat_threshold"):
        MaskParams.from_dict({"sat_threshold": 3})


def test_polygons_rasterise_back_to_the_mask():
    _, truth = _scene()
    polys = mask_to_polygons(truth, scale=16.0)
    raster = np.zeros_like(truth, np.uint8)
    for p in polys.geoms:
        ext = (np.asarray(p.exterior.coords) / 16.0 - 0.5).round().astype(np.int32)
        cv2.fillPoly(raster, [ext], 1)
        for hole in p.interiors:
            cv2.fillPoly(raster, [(np.asarray(hole.coords) / 16.0 - 0.5).round().astype(np.int32)], 0)
    assert iou(raster.astype(bool), truth) > 0.97
    assert polys.area == pytest.approx(truth.sum() * 256, rel=0.05)


def test_mask_outputs_are_deterministic(make_geometry_slide, tmp_path):
    slide = make_geometry_slide()
    a, b = tmp_path / "a", tmp_path / "b"
    mask_slide(slide, a, MaskParams(), slide_id="s")
    mask_slide(slide, b, MaskParams(), slide_id="s")
    # mask.json too: a rerun must not differ by a wall time (it goes to the log instead)
    for name in ("mask.png", "qc.png", "tissue.geojson", "mask.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    meta = json.loads((a / "mask.json").read_text())
    assert not {"seconds", "wall_seconds", "time"} & set(meta)
    assert meta["slide"]["mpp_source"] == "openslide"
    polys = geojson_to_polygons(json.loads((a / "tissue.geojson").read_text()))
    # the disc (r = 200 µm) in level-0 px² at 0.25 µm/px
    assert polys.area == pytest.approx(np.pi * 200**2 / 0.25**2, rel=0.05)
