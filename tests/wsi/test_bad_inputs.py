"""Bad slides stop with an error naming the file and the fix; finished outputs stay intact."""

from __future__ import annotations

import pytest

from pathfm.wsi.errors import MissingMppError, SlideOpenError, SlideTruncatedError
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import mask_slide
from pathfm.wsi.slide import open_slide


def test_truncated_slide(make_geometry_slide, tmp_path):
    path = make_geometry_slide()
    data = path.read_bytes()
    cut = tmp_path / "cut.svs"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(SlideTruncatedError) as err:
        open_slide(cut)
    assert str(cut) in str(err.value) and "Re-download" in str(err.value)


def test_truncated_inside_the_header(make_geometry_slide, tmp_path):
    cut = tmp_path / "stub.svs"
    cut.write_bytes(make_geometry_slide().read_bytes()[:12])
    with pytest.raises((SlideTruncatedError, SlideOpenError)) as err:
        open_slide(cut)
    assert str(cut) in str(err.value)


def test_non_slide_named_svs(tmp_path):
    fake = tmp_path / "notes.svs"
    fake.write_text("patient notes, not a slide\n" * 100)
    with pytest.raises(SlideOpenError) as err:
        open_slide(fake)
    assert str(fake) in str(err.value) and "not a whole-slide image" in str(err.value)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.svs"
    empty.touch()
    with pytest.raises(SlideOpenError, match="empty file"):
        open_slide(empty)
    with pytest.raises(SlideOpenError, match="file not found"):
        open_slide(tmp_path / "absent.svs")


def test_failed_mask_leaves_previous_outputs_untouched(make_geometry_slide, tmp_path):
    good = make_geometry_slide()
    out = tmp_path / "masks" / "s1"
    mask_slide(good, out, MaskParams(mpp=4.0), slide_id="s1")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    nompp = make_geometry_slide("nompp.svs", write_mpp=False)
    with pytest.raises(MissingMppError):
        mask_slide(nompp, out, MaskParams(mpp=4.0), slide_id="s1")
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
