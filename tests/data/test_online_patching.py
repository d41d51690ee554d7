"""Online patching: foreground threshold, exact mpp, readers, distinct mode, resumable stream."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from shapely.geometry import Point, mapping

from pathfm.data.multicrop import MultiCrop, MultiCropConfig
from pathfm.data.online_patching import OnlinePatchingConfig, OnlinePatchLoader
from pathfm.data.patch_readers import open_reader
from pathfm.data.patch_sampling import PatchSampler, build_slide_index
from pathfm.io.hashing import md5_file
from tests.conftest import geometry_slide

PINK = np.array([214, 120, 170])  # the tissue disc of geometry_slide
DARK = np.array([40, 20, 80])  # its 50 × 50 µm square at (300, 200) µm


def make_cohort(root: Path, mpps=(0.25, 0.5)) -> tuple[Path, Path]:
    """Geometry slides at several level-0 mpps, their exact disc polygons, a manifest."""
    rows = []
    for i, mpp in enumerate(mpps):
        path = geometry_slide(root / f"s{i}.svs", mpp)
        disc = Point(520 / mpp, 330 / mpp).buffer(200 / mpp, quad_segs=64)  # level-0 px
        mask_dir = root / "masks" / f"s{i}"
        mask_dir.mkdir(parents=True)
        feature = {"type": "Feature", "geometry": mapping(disc), "properties": {}}
        (mask_dir / "tissue.geojson").write_text(
            json.dumps({"type": "FeatureCollection", "features": [feature]}))
        rows.append({"slide_id": f"s{i}", "path": str(path), "md5": md5_file(path)})
    manifest = root / "manifest.tsv"
    pd.DataFrame(rows).to_csv(manifest, sep="\t", index=False)
    return manifest, root / "masks"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    manifest, masks = make_cohort(tmp_path_factory.mktemp("cohort"))
    return build_slide_index([manifest], [masks])


def colour_fraction(rgb: np.ndarray, colour: np.ndarray, tol: int = 30) -> float:
    return float((np.abs(rgb.astype(int) - colour).max(-1) < tol).mean())


def test_index_reads_mpp_and_tissue_area(cohort):
    assert [s.mpp for s in cohort] == [0.25, 0.5]
    for s in cohort:  # the disc has radius 200 µm whatever the scan resolution
        assert s.tissue_area_um2 == pytest.approx(np.pi * 200**2, rel=1e-3)


@pytest.mark.parametrize("threshold", [0.4, 0.9])
def test_patches_respect_the_foreground_threshold(cohort, threshold):
    sampler = PatchSampler(cohort, 64, [2.0, 1.0, 0.5], min_foreground=threshold, seed=3)
    readers = [open_reader("openslide", s.path, s.mpp) for s in cohort]
    fgs = []
    for j in range(60):
        spec = sampler.spec(j)
        assert spec.foreground >= threshold
        rgb = readers[spec.slide].read_patch(spec.x0, spec.y0, spec.size_px, spec.mpp)
        # Pixels agree with the polygon overlap (the disc edge blurs by a pixel or two;
        # the dark square lies outside the disc, so it is not tissue here).
        assert colour_fraction(rgb, PINK) == pytest.approx(spec.foreground, abs=0.06)
        fgs.append(spec.foreground)
    if threshold < 0.5:  # rejection sampling reaches partly covered positions too
        assert min(fgs) < 0.9


@pytest.mark.parametrize("target_mpp", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("reader", ["openslide", "zarr"])
def test_patches_have_the_requested_mpp(cohort, target_mpp, reader):
    size = 160
    for s in cohort:
        r = open_reader(reader, s.path, s.mpp)
        # Centre the dark 50 µm square in the patch; its side must be 50 / mpp pixels.
        x0 = (325 - size * target_mpp / 2) / s.mpp
        y0 = (225 - size * target_mpp / 2) / s.mpp
        rgb = r.read_patch(x0, y0, size, target_mpp)
        side = np.sqrt(colour_fraction(rgb, DARK, tol=60) * size * size)
        assert side == pytest.approx(50 / target_mpp, abs=1.5)


def test_sampled_patch_scale_matches_mpp(cohort):
    # Patches drawn at two magnifications from slides scanned at two mpps: the disc
    # edge curvature differs, but the tissue fraction each reports must match its
    # pixels at that exact scale (checked above); here: the level-0 span is exact.
    sampler = PatchSampler(cohort, 80, [2.0, 0.5], seed=1)
    for j in range(20):
        spec = sampler.spec(j)
        slide = cohort[spec.slide]
        side = spec.size_px * spec.mpp / slide.mpp
        assert 0 <= spec.x0 <= slide.width - side and 0 <= spec.y0 <= slide.height - side


def test_zarr_and_openslide_readers_agree(cohort):
    sampler = PatchSampler(cohort, 72, [2.0, 1.0, 0.5, 0.25], min_foreground=0.0, seed=7)
    osr = [open_reader("openslide", s.path, s.mpp) for s in cohort]
    zr = [open_reader("zarr", s.path, s.mpp, cache_mb=1) for s in cohort]
    for j in range(40):
        spec = sampler.spec(j)
        a = osr[spec.slide].read_patch(spec.x0, spec.y0, spec.size_px, spec.mpp)
        b = zr[spec.slide].read_patch(spec.x0, spec.y0, spec.size_px, spec.mpp)
        np.testing.assert_array_equal(a, b)
    # Reads off the slide edge are white in both.
    s = cohort[0]
    a = osr[0].read_patch(s.width - 10, s.height - 10, 32, s.mpp)
    b = zr[0].read_patch(s.width - 10, s.height - 10, 32, s.mpp)
    np.testing.assert_array_equal(a, b)
    assert (a[20:, 20:] == 255).all()
    assert zr[0].hits > 0  # the chunk cache serves repeated chunks


def test_distinct_mode_cycles_exactly_n_patches(cohort):
    n = 5
    free = PatchSampler(cohort, 64, [1.0, 0.5], seed=11)
    capped = PatchSampler(cohort, 64, [1.0, 0.5], seed=11, distinct_patches=n)
    first = [free.spec(j).key() for j in range(n)]
    drawn = [capped.spec(j).key() for j in range(300)]
    assert drawn[:n] == first  # the first N draws are the ordinary stream
    assert set(drawn) == set(first) and len(set(first)) == n
    assert len({free.spec(j).key() for j in range(300)}) == 300


def test_tissue_area_weighting(cohort):
    # Shrink slide 1's tissue to a quarter: it must be drawn about 1/5 of the time.
    import copy
    slides = copy.deepcopy(cohort)
    slides[1].tissue_area_um2 /= 4
    sampler = PatchSampler(slides, 32, [1.0], slide_sampling="tissue_area", seed=0)
    share = np.mean([sampler.spec(j).slide for j in range(400)])
    assert share == pytest.approx(0.2, abs=0.06)


def _loader(cohort, workers=0, **kw):
    cfg = OnlinePatchingConfig(patch_px=48, mpps=[1.0, 0.5], epoch_patches=4 * 6,
                               num_workers=workers, **kw)
    crops = MultiCrop(MultiCropConfig(global_size=32, local_size=16, n_local=2))
    return OnlinePatchLoader(cohort, cfg, crops, batch_size=4, seed=5)


def test_resumed_stream_continues_the_same_patches(cohort):
    ref = _loader(cohort)
    batches = list(ref)  # one epoch: 6 batches
    assert len(batches) == 6 and batches[0]["global"].shape == (8, 3, 32, 32)
    assert batches[0]["local"].shape == (8, 3, 16, 16)
    first = _loader(cohort)
    it = iter(first)
    next(it), next(it)
    state = first.state_dict()
    resumed = _loader(cohort)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(rest) == 4
    for a, b in zip(rest, batches[2:]):
        assert torch.equal(a["global"], b["global"]) and torch.equal(a["local"], b["local"])
    # The next iteration is the next epoch, continuing the stream.
    assert resumed.state_dict()["next_batch"] == 6
    assert not torch.equal(next(iter(resumed))["global"], batches[0]["global"])


def test_stream_does_not_depend_on_worker_count(cohort):
    single = list(_loader(cohort, workers=0))
    multi = list(_loader(cohort, workers=2))
    assert len(multi) == len(single)
    for a, b in zip(single, multi):
        assert torch.equal(a["global"], b["global"])


def test_ranks_draw_disjoint_patches(cohort):
    cfg = OnlinePatchingConfig(patch_px=48, mpps=[1.0], num_workers=0)
    crops = MultiCrop(MultiCropConfig(global_size=32, local_size=16, n_local=0))
    ranks = [OnlinePatchLoader(cohort, cfg, crops, batch_size=4, seed=0, rank=r, world_size=2)
             for r in range(2)]
    idx = [set(j for b in range(5) for j in ranks[r].dataset.patch_indices(b)) for r in range(2)]
    assert not idx[0] & idx[1] and len(idx[0] | idx[1]) == 40


def test_resume_with_other_batch_size_is_refused(cohort):
    state = _loader(cohort).state_dict()
    state["batch_size"] = 8
    with pytest.raises(ValueError, match="batch_size"):
        _loader(cohort).load_state_dict(state)


def test_bad_settings_are_named(cohort):
    with pytest.raises(ValueError, match="reader"):
        OnlinePatchingConfig.from_dict({"reader": "bioformats"})
    with pytest.raises(ValueError, match="patch_size"):
        OnlinePatchingConfig.from_dict({"patch_size": 3})
    with pytest.raises(RuntimeError, match="overlaps the tissue"):
        PatchSampler(cohort, 64, [8.0], min_foreground=0.9).spec(0)  # 512 µm: ≤ 48 % disc
