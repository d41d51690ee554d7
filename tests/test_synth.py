"""Synthetic slides: OpenSlide reads them, truth matches pixels, runs repeat exactly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import openslide
import pytest

from pathfm.commands.synth_slide import main as synth_slide_main
from pathfm.wsi.synth import (
    DEFAULT_TISSUE_MIX, LEGEND, ScannerParams, StainParams, SynthParams, render,
    synthesize_slide, synthesize_tissue,
)

SMALL = {"width_um": 500, "height_um": 400, "n_pieces": 2}
TINY = {"width_um": 300, "height_um": 240, "n_pieces": 1, "artefacts": []}
TRUTH_FILES = ("tissue_mask.png", "tissue_types.png", "truth.json")
LEGEND_CODE = {v: k for k, v in LEGEND.items()}


def _md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One small default-mix slide with every artefact: (slide path, truth dir, metadata)."""
    out = tmp_path_factory.mktemp("synth")
    slide = out / "s1.svs"
    meta = synthesize_slide(
        slide, out / "truth", slide_id="s1", seed=7, params=SynthParams.from_dict(SMALL)
    )
    return slide, out / "truth", meta


def test_openslide_reads_an_aperio_pyramid(small):
    slide, _, meta = small
    with openslide.OpenSlide(slide) as s:
        assert s.properties["openslide.vendor"] == "aperio"
        assert s.level_count >= 3
        assert s.level_downsamples == pytest.approx((1.0, 4.0, 16.0))
        assert s.dimensions == (meta["width"], meta["height"])
        assert float(s.properties["openslide.mpp-x"]) == pytest.approx(meta["mpp"])
        assert float(s.properties["openslide.mpp-y"]) == pytest.approx(meta["mpp"])
        assert s.properties["openslide.objective-power"] == "40"
        assert "thumbnail" in s.associated_images
    lo, hi = SynthParams().mpp_range
    assert lo <= meta["mpp"] <= hi
    assert meta["width"] * meta["mpp"] == pytest.approx(SMALL["width_um"], abs=16 * hi)


def test_truth_maps_have_the_documented_shape(small):
    _, truth, meta = small
    mask = cv2.imread(str(truth / "tissue_mask.png"), cv2.IMREAD_UNCHANGED)
    types = cv2.imread(str(truth / "tissue_types.png"), cv2.IMREAD_UNCHANGED)
    on_disk = json.loads((truth / "truth.json").read_text())
    assert on_disk == meta
    expect = (round(meta["height"] * meta["mpp"] / 8.0), round(meta["width"] * meta["mpp"] / 8.0))
    assert mask.shape == types.shape == expect == (meta["truth_height"], meta["truth_width"])
    assert mask.dtype == types.dtype == np.uint8
    assert meta["truth_scale"] == [expect[1] / meta["width"], expect[0] / meta["height"]]
    assert set(np.unique(mask)) <= {0, 255}
    assert set(np.unique(types)) <= set(LEGEND)
    assert np.array_equal(types > 0, mask > 0)
    assert meta["legend"] == {str(k): v for k, v in LEGEND.items()}
    assert 0.1 < meta["tissue_fraction"] < 0.6


def test_every_tissue_type_of_the_mix_appears(small):
    _, truth, meta = small
    types = cv2.imread(str(truth / "tissue_types.png"), cv2.IMREAD_UNCHANGED)
    present = {LEGEND[c] for c in np.unique(types) if c}
    assert present == set(DEFAULT_TISSUE_MIX)
    assert set(meta["type_fractions"]) == set(DEFAULT_TISSUE_MIX)


def test_mask_matches_the_pixels(small):
    slide, truth, meta = small
    mask = cv2.imread(str(truth / "tissue_mask.png"), cv2.IMREAD_UNCHANGED)
    types = cv2.imread(str(truth / "tissue_types.png"), cv2.IMREAD_UNCHANGED)
    h, w = mask.shape
    with openslide.OpenSlide(slide) as s:
        rgb = np.asarray(s.read_region((0, 0), 0, s.dimensions).convert("RGB"))
    small_rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA).astype(float)
    # Judge only pixels well inside each class, away from artefacts on the glass.
    glass = np.zeros((h, w), bool)
    sx, sy = meta["truth_scale"]
    for art in meta["artefacts"]:
        if art["type"] in ("pen", "bubble"):
            x0, y0, x1, y1 = art["bbox_level0"]
            glass[int(y0 * sy):int(np.ceil(y1 * sy)) + 1, int(x0 * sx):int(np.ceil(x1 * sx)) + 1] = True
    kernel = np.ones((3, 3), np.uint8)
    bg = (cv2.erode((mask == 0).astype(np.uint8), kernel) > 0) & ~glass
    tis = (cv2.erode((mask > 0).astype(np.uint8), kernel) > 0) & (types != LEGEND_CODE["adipose"])
    assert bg.sum() > 100 and tis.sum() > 100
    bright = small_rgb.mean(axis=2)
    sat = small_rgb.max(axis=2) - small_rgb.min(axis=2)
    assert np.mean((bright[bg] > 225) & (sat[bg] < 15)) > 0.98
    assert np.mean((bright[tis] < 215) | (sat[tis] > 30)) > 0.95




def test_artefacts_are_recorded_inside_the_slide(small):
    slide, _, meta = small
    kinds = [a["type"] for a in meta["artefacts"]]
    assert sorted(kinds) == ["bubble", "fold", "pen"]
    with openslide.OpenSlide(slide) as s:
        for art in meta["artefacts"]:
            x0, y0, x1, y1 = art["bbox_level0"]
            assert 0 <= x0 < x1 <= meta["width"] and 0 <= y0 < y1 <= meta["height"]
            if art["type"] == "pen":
                crop = np.asarray(s.read_region((x0, y0), 0, (x1 - x0, y1 - y0)).convert("RGB"))
                r, g, b = (crop[..., i].astype(int) for i in range(3))
                ink = (b > r + 60) if art["colour"] == "blue" else (g > r + 60)
                assert ink.mean() > 0.05


def test_same_seed_same_bytes(small, tmp_path):
    slide, truth, meta = small
    again = synthesize_slide(
        tmp_path / "s1.svs", tmp_path / "truth", slide_id="s1", seed=7,
        params=SynthParams.from_dict(SMALL),
    )
    assert again == meta
    assert _md5(tmp_path / "s1.svs") == _md5(slide)
    for name in TRUTH_FILES:
        assert _md5(tmp_path / "truth" / name) == _md5(truth / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s1.svs", "truth"]


def test_other_seed_other_slide(tmp_path):
    params = SynthParams.from_dict(TINY)
    a = synthesize_slide(tmp_path / "a.svs", tmp_path / "a", slide_id="a", seed=1, params=params)
    b = synthesize_slide(tmp_path / "b.svs", tmp_path / "b", slide_id="b", seed=2, params=params)
    assert _md5(tmp_path / "a.svs") != _md5(tmp_path / "b.svs")
    assert a["artefacts"] == b["artefacts"] == []


def test_slide_without_mpp(tmp_path):
    params = SynthParams.from_dict({**TINY, "record_mpp": False, "mpp": 0.5})
    meta = synthesize_slide(tmp_path / "n.svs", tmp_path / "t", slide_id="n", seed=3, params=params)
    with openslide.OpenSlide(tmp_path / "n.svs") as s:
        assert s.properties["openslide.vendor"] == "aperio"
        assert "openslide.mpp-x" not in s.properties
        assert "openslide.objective-power" not in s.properties
    assert meta["mpp"] == 0.5 and meta["mpp_recorded"] is False


def test_generic_layout(tmp_path):
    params = SynthParams.from_dict({**TINY, "layout": "generic", "mpp": 0.25,
                                    "downsamples": [1, 2, 4, 8]})
    synthesize_slide(tmp_path / "g.tif", tmp_path / "t", slide_id="g", seed=3, params=params)
    with openslide.OpenSlide(tmp_path / "g.tif") as s:
        assert s.properties["openslide.vendor"] == "generic-tiff"
        assert s.level_downsamples == pytest.approx((1.0, 2.0, 4.0, 8.0))
        assert float(s.properties["openslide.mpp-x"]) == pytest.approx(0.25)


def test_one_tissue_renders_under_other_stains_and_scanners():
    params = SynthParams.from_dict(TINY)
    tissue = synthesize_tissue(5, params)
    base = render(tissue)
    assert base.shape == (*tissue.shape, 3) and base.dtype == np.uint8
    assert np.array_equal(base, render(tissue))
    strong_h = render(tissue, StainParams(h_scale=1.6))
    other = render(tissue, scanner=ScannerParams(gain=(0.95, 1.0, 1.05), gamma=0.9, blur_um=0.5))
    bg = ~tissue.layout.tissue
    tis = tissue.layout.tissue
    assert np.abs(strong_h[bg].astype(int) - base[bg]).mean() < 1.0
    assert strong_h[tis].mean() < base[tis].mean() - 3
    assert np.abs(other.astype(int) - base).mean() > 2
    # The layout does not depend on the artefacts drawn over it.
    with_art = synthesize_tissue(5, SynthParams.from_dict({**TINY, "artefacts": ["fold", "pen"]}))
    assert np.array_equal(with_art.layout.labels, tissue.layout.labels)


def test_params_reject_unknown_keys():
    with pytest.raises(ValueError, match="unknown key.*'widht_um'.*valid keys are.*width_um"):
        SynthParams.from_dict({"widht_um": 100})
    with pytest.raises(ValueError, match="SynthParams.stain: unknown key.*'hscale'"):
        SynthParams.from_dict({"stain": {"hscale": 1.2}})
    with pytest.raises(ValueError, match="unknown tissue type 'tumor'"):
        SynthParams.from_dict({"tissue_mix": {"tumor": 1.0}})
    with pytest.raises(ValueError, match="downsamples"):
        SynthParams.from_dict({"downsamples": [1, 4]})
    with pytest.raises(ValueError, match="artefact"):
        SynthParams.from_dict({"artefacts": ["coffee"]})


def test_params_round_trip_through_json():
    p = SynthParams.from_dict({
        "width_um": 800, "mpp": 0.5, "tissue_mix": {"tumour": 2, "stroma": 1},
        "stain": {"h_scale": 1.2, "matrix": [[0.6, 0.7, 0.3], [0.1, 0.9, 0.4]]},
        "scanner": {"gain": [1.0, 0.98, 1.02]},
    })
    again = SynthParams.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p
    assert list(p.tissue_mix) == ["stroma", "tumour"]


def test_script_main(tmp_path, caplog):
    slide, truth = tmp_path / "x.svs", tmp_path / "truth"
    params = json.dumps({**TINY, "artefacts": ["bubble"]})
    with caplog.at_level("INFO"):
        rc = synth_slide_main(["--slide-id", "x", "--seed", "4", "--params", params,
                          "--slide", str(slide), "--truth-dir", str(truth)])
    assert rc == 0
    assert slide.exists() and all((truth / n).exists() for n in TRUTH_FILES)
    assert json.loads((truth / "truth.json").read_text())["slide_id"] == "x"
    assert "slide x (seed 4)" in caplog.text
    with pytest.raises(SystemExit, match="unknown key"):
        synth_slide_main(["--slide-id", "x", "--seed", "4", "--params", '{"nope": 1}',
                     "--slide", str(slide), "--truth-dir", str(truth)])
