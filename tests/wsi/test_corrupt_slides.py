"""Corrupt pixel data: a JPEG tile damaged mid-file stops with the file, level, region and fix.

The fixtures are the project's own pyramidal SVS (tests/conftest.py) with the bytes
of one stored tile overwritten, the equivalent of openslide-python's
``unreadable.svs``. Each kind of damage makes libjpeg say one of the messages
seen on real damaged downloads; openslide (>= 4) raises all of them, libjpeg's
"Corrupt JPEG data" warnings included, rather than returning wrong pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from pathfm.commands import mask as mask_command
from pathfm.wsi.errors import SlideError, SlideReadError
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import decode_check_points, mask_slide
from pathfm.wsi.qc import read_png
from pathfm.wsi.slide import open_slide

MPP = 0.25  # level-0 µm/px of the fixture; levels at 0.25, 1.0 and 4.0 µm/px
TILE = 256
# Aperio layout: IFD 0 is level 0, IFD 1 the thumbnail, IFDs 2 and 3 levels 1 and 2.
LEVEL_IFD = {0: 0, 1: 2, 2: 3}
DISC_CENTRE_UM = (520.0, 330.0)  # centre of the fixture's tissue disc
MASK = MaskParams(mpp=4.0)  # reads level 2 in full


def _damage(kind: str, tile: bytes) -> bytes:
    """``tile`` (one JPEG) with the damage that makes libjpeg give a known message."""
    t = bytearray(tile)
    if kind == "bogus_marker_length":  # the first DQT segment claims a length of 1
        assert t[20:22] == b"\xff\xdb"
        t[22:24] = b"\x00\x01"
    elif kind == "premature_end_of_data_segment":  # an end-of-image marker inside the scan
        t[len(t) // 2:len(t) // 2 + 2] = b"\xff\xd9"
    elif kind == "garbage":  # random bytes over the entropy-coded data, header kept
        rng = np.random.default_rng(0)
        start = len(t) // 2
        t[start:] = rng.integers(0, 256, len(t) - start, dtype=np.uint8).tobytes()
    else:
        raise ValueError(kind)
    return bytes(t)


def corrupt_tiles(src: Path, dst: Path, level: int, tiles: list[tuple[int, int]] | None = None,
                  kind: str = "garbage") -> Path:
    """Copy ``src`` to ``dst`` with the given (column, row) tiles of ``level`` damaged in place.

    ``tiles=None`` damages every tile of the level. The file keeps its size and
    structure, so the open-time checks pass and only decoding fails.
    """
    data = bytearray(src.read_bytes())
    with tifffile.TiffFile(src) as tif:
        page = tif.pages[LEVEL_IFD[level]]
        across = -(-page.imagewidth // TILE)
        offsets, counts = list(page.dataoffsets), list(page.databytecounts)
    indices = range(len(offsets)) if tiles is None else [r * across + c for c, r in tiles]
    for i in indices:
        o, n = offsets[i], counts[i]
        data[o:o + n] = _damage(kind, bytes(data[o:o + n]))
    dst.write_bytes(bytes(data))
    return dst


def _tile_at_um(level: int, x_um: float, y_um: float) -> tuple[int, int]:
    level_mpp = MPP * 4**level
    return int(x_um / level_mpp) // TILE, int(y_um / level_mpp) // TILE


@pytest.fixture(autouse=True)
def _restore_logging(restore_root_logging):
    """The commands these tests run reconfigure the root logger."""


def _assert_names_file_and_fix(message: str, path: Path) -> None:
    assert str(path) in message
    assert f"rm {path}" in message and "rerun" in message and "md5" in message


@pytest.mark.parametrize("kind", ["bogus_marker_length", "premature_end_of_data_segment",
                                  "garbage"])
def test_direct_read_of_a_corrupt_tile_names_file_level_region_and_fix(make_geometry_slide,
                                                                        tmp_path, kind):
    bad = corrupt_tiles(make_geometry_slide(), tmp_path / "bad.svs", 0,
                        [_tile_at_um(0, *DISC_CENTRE_UM)], kind)
    x0, y0 = DISC_CENTRE_UM[0] / MPP, DISC_CENTRE_UM[1] / MPP
    with open_slide(bad) as slide, pytest.raises(SlideReadError) as err:
        slide.read_region_mpp(x0, y0, 64, 64, MPP)
    message = str(err.value)
    _assert_names_file_and_fix(message, bad)
    assert "level 0 " in message and f"level-0 (x, y) = ({x0:.0f}, {y0:.0f})" in message
    assert "openslide:" in message  # libjpeg's own words are kept for the record
    assert isinstance(err.value, SlideError)


def test_a_failed_read_does_not_poison_later_reads(make_geometry_slide, tmp_path):
    """openslide keeps a handle in its error state; the Slide starts a fresh one."""
    good = make_geometry_slide()
    bad = corrupt_tiles(good, tmp_path / "bad.svs", 0, [_tile_at_um(0, *DISC_CENTRE_UM)])
    x0, y0 = DISC_CENTRE_UM[0] / MPP, DISC_CENTRE_UM[1] / MPP
    with open_slide(good) as ref:
        expected = ref.read_region_mpp(100, 100, 64, 64, MPP)
    with open_slide(bad) as slide:
        for _ in range(2):  # the bad region keeps failing with its own message
            with pytest.raises(SlideReadError, match="does not decode"):
                slide.read_region_mpp(x0, y0, 64, 64, MPP)
            np.testing.assert_array_equal(slide.read_region_mpp(100, 100, 64, 64, MPP), expected)
        # a coarser level of the same place decodes too
        assert slide.read_region_mpp(x0, y0, 16, 16, 4.0).shape == (16, 16, 3)


def test_mask_command_names_file_and_fix_for_a_corrupt_slide(make_geometry_slide, tmp_path,
                                                             capsys):
    """The mid-file damaged tile of level 0, found by the mask step's decode check."""
    bad = corrupt_tiles(make_geometry_slide(), tmp_path / "bad.svs", 0,
                        [_tile_at_um(0, *DISC_CENTRE_UM)], "premature_end_of_data_segment")
    out = tmp_path / "masks" / "bad"
    code = mask_command.main(["--slide", str(bad), "--slide-id", "bad", "--mpp-policy",
                              "fallback", "--params", json.dumps(MASK.to_dict()),
                              "--out", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    _assert_names_file_and_fix(err, bad)
    assert "level 0 " in err and "Traceback" not in err
    assert not out.exists()


def test_mask_command_names_a_corrupt_level_it_reads_in_full(make_geometry_slide, tmp_path,
                                                             capsys):
    bad = corrupt_tiles(make_geometry_slide(), tmp_path / "bad.svs", 2, None, "bogus_marker_length")
    code = mask_command.main(["--slide", str(bad), "--slide-id", "bad", "--mpp-policy",
                              "fallback", "--params", json.dumps(MASK.to_dict()),
                              "--out", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    _assert_names_file_and_fix(err, bad)
    assert "level 2 " in err and "Bogus marker length" in err


def test_mask_fails_naming_a_corrupt_level_it_does_not_read(make_geometry_slide, tmp_path):
    """Level 1 serves a 1 µm/px tiling but not the 4 µm/px mask: checked all the same."""
    bad = corrupt_tiles(make_geometry_slide(), tmp_path / "bad.svs", 1,
                        [_tile_at_um(1, *DISC_CENTRE_UM)])
    out = tmp_path / "masks" / "bad"
    with pytest.raises(SlideReadError) as err:
        mask_slide(bad, out, MASK, slide_id="bad")
    message = str(err.value)
    _assert_names_file_and_fix(message, bad)
    assert "level 1 " in message and "level-0 (x, y) = (" in message
    assert "decode check" in message
    assert not out.exists()


def test_decode_check_is_a_few_reads_per_level_over_the_tissue(make_geometry_slide, tmp_path):
    meta = mask_slide(make_geometry_slide(), tmp_path / "m", MASK, slide_id="s")
    check = meta["decode_check"]
    assert check["levels"] == [0, 1]  # every level but the one the mask read (2)
    points = np.asarray(check["points_level0"], float)
    assert 5 <= len(points) <= 9
    # every point on the mask's tissue, and spread over the disc (r = 200 µm)
    mask = read_png(tmp_path / "m" / "mask.png") > 0
    cols, rows = (points / meta["level0_per_mask_px"]).astype(int).T
    assert mask[rows, cols].all()
    assert np.ptp(points[:, 0]) * MPP > 200 and np.ptp(points[:, 1]) * MPP > 200


def test_decode_check_points_without_tissue_cover_the_slide():
    points = decode_check_points(np.zeros((30, 60), bool), scale=10.0)
    assert len(points) == 9
    xs, ys = zip(*points)
    assert min(xs) > 0 and max(xs) < 600 and min(ys) > 0 and max(ys) < 300


@pytest.mark.parametrize("reader", ["openslide", "zarr"])
def test_online_patch_readers_name_file_level_region_and_fix(make_geometry_slide, tmp_path,
                                                              reader):
    """Training reads patches through its own readers (kaiko online patching), not Slide."""
    from pathfm.data.patch_readers import open_reader

    bad = corrupt_tiles(make_geometry_slide(), tmp_path / "bad.svs", 0,
                        [_tile_at_um(0, *DISC_CENTRE_UM)], "bogus_marker_length")
    x0, y0 = int(DISC_CENTRE_UM[0] / MPP), int(DISC_CENTRE_UM[1] / MPP)
    r = open_reader(reader, bad, MPP)
    try:
        with pytest.raises(SlideReadError) as err:
            r.read_patch(x0, y0, 64, MPP)
    finally:
        r.close()
    message = str(err.value)
    _assert_names_file_and_fix(message, bad)
    assert "level 0" in message and "does not decode" in message
