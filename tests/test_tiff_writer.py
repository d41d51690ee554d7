"""The pyramidal TIFF writer: what OpenSlide sees in each layout."""

from __future__ import annotations

import hashlib

import numpy as np
import openslide
import pytest

from pathfm.wsi.tiff_writer import level_shapes, write_pyramidal_tiff


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """(1024, 1280, 3) uint8: smooth gradients with a few flat blocks."""
    h, w = 1024, 1280
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([
        200 + 40 * np.sin(x / 90.0),
        150 + 60 * np.cos(y / 70.0),
        180 + 30 * np.sin((x + y) / 120.0),
    ], axis=-1)
    img[100:300, 200:520] = (200, 60, 150)
    img[600:900, 700:1100] = (70, 50, 140)
    return np.clip(img, 0, 255).astype(np.uint8)


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_aperio_layout_is_read_as_aperio(tmp_path, image):
    path = write_pyramidal_tiff(tmp_path / "a.svs", image, mpp=0.25)
    with openslide.OpenSlide(path) as s:
        props = s.properties
        assert props["openslide.vendor"] == "aperio"
        assert s.level_count == 3
        assert s.level_downsamples == pytest.approx((1.0, 4.0, 16.0))
        assert s.level_dimensions == ((1280, 1024), (320, 256), (80, 64))
        assert float(props["openslide.mpp-x"]) == pytest.approx(0.25)
        assert float(props["openslide.mpp-y"]) == pytest.approx(0.25)
        assert props["openslide.objective-power"] == "40"
        assert props["tiff.ImageDescription"].startswith("Aperio Image Library")
        assert "|MPP = 0.2500|AppMag = 40|" in props["tiff.ImageDescription"]
        assert "thumbnail" in s.associated_images
        thumb = np.asarray(s.associated_images["thumbnail"].convert("RGB"), dtype=float)
        assert thumb.shape[2] == 3 and max(thumb.shape[:2]) <= 1280
        region = np.asarray(s.read_region((0, 0), 0, (1280, 1024)).convert("RGB"), dtype=float)
        assert np.abs(region - image).mean() < 4.0
        low = np.asarray(s.read_region((0, 0), 2, (80, 64)).convert("RGB"), dtype=float)
        ref = image.reshape(64, 16, 80, 16, 3).mean(axis=(1, 3))
        assert np.abs(low - ref).mean() < 4.0


def test_generic_layout_carries_mpp_in_resolution_tags(tmp_path, image):
    path = write_pyramidal_tiff(tmp_path / "g.tif", image, mpp=0.4871, layout="generic")
    with openslide.OpenSlide(path) as s:
        props = s.properties
        assert props["openslide.vendor"] == "generic-tiff"
        assert s.level_count == 3
        assert s.level_downsamples == pytest.approx((1.0, 4.0, 16.0))
        assert float(props["openslide.mpp-x"]) == pytest.approx(0.4871, abs=1e-6)
        assert float(props["openslide.mpp-y"]) == pytest.approx(0.4871, abs=1e-6)
        assert props["tiff.ResolutionUnit"] == "centimeter"
        assert "openslide.objective-power" not in props
        assert not s.associated_images


@pytest.mark.parametrize("layout", ["aperio", "generic"])
def test_no_mpp_anywhere(tmp_path, image, layout):
    path = write_pyramidal_tiff(tmp_path / "n.svs", image, mpp=None, layout=layout)
    with openslide.OpenSlide(path) as s:
        props = dict(s.properties)
    assert "openslide.mpp-x" not in props and "openslide.mpp-y" not in props
    assert "tiff.XResolution" not in props and "aperio.MPP" not in props
    assert not any("MPP" in v for v in props.values())


def test_resolution_tags_can_be_left_out(tmp_path, image):
    path = write_pyramidal_tiff(
        tmp_path / "g.tif", image, mpp=0.5, layout="generic", resolution_tags=False
    )
    with openslide.OpenSlide(path) as s:
        assert "openslide.mpp-x" not in s.properties


def test_odd_sizes_and_more_levels(tmp_path, image):
    img = image[:1000, :1210]
    path = write_pyramidal_tiff(
        tmp_path / "o.svs", img, mpp=0.5, downsamples=(1, 2, 8, 32), tile=128, thumbnail=False
    )
    with openslide.OpenSlide(path) as s:
        assert s.level_count == 4
        assert s.level_dimensions == tuple((w, h) for h, w in level_shapes(1000, 1210, (1, 2, 8, 32)))
        assert s.level_downsamples == pytest.approx((1, 2, 8, 32), rel=0.01)
        assert "thumbnail" not in s.associated_images


def test_deterministic_and_atomic(tmp_path, image):
    a = write_pyramidal_tiff(tmp_path / "a.svs", image, mpp=0.25)
    b = write_pyramidal_tiff(tmp_path / "b.svs", image, mpp=0.25)
    assert _md5(a) == _md5(b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.svs", "b.svs"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"downsamples": (2, 4)}, "downsamples"),
        ({"downsamples": (1, 4, 4)}, "downsamples"),
        ({"layout": "ndpi"}, "layout"),
        ({"tile": 100}, "tile"),
        ({"mpp": -1.0}, "mpp"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, image, kwargs, message):
    args = {"mpp": 0.25, **kwargs}
    with pytest.raises(ValueError, match=message):
        write_pyramidal_tiff(tmp_path / "x.svs", image, **args)
    with pytest.raises(ValueError, match="uint8"):
        write_pyramidal_tiff(tmp_path / "x.svs", image.astype(np.float32), mpp=0.25)
    assert list(tmp_path.iterdir()) == []
