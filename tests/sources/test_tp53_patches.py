"""The TCGA TP53 patch set, built from slides and masks the project makes itself.

A cohort of five small slides at 0.5 µm/px, each with one rectangle of tissue aligned
to the 224-px grid, so every slide's tissue tile count is known exactly; four slides
belong to three labelled patients (one patient has two slides), one to a patient the
label table does not know.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from pathfm.commands import tp53_patch_set as command
from pathfm.embed.images import open_image_source
from pathfm.io import md5_file
from pathfm.sources import tp53_patches as tp
from pathfm.sources.tp53_patches import TP53PatchParams, allocate, build_tp53_patches
from pathfm.wsi.errors import SlideReadError
from pathfm.wsi.mask import MaskParams
from pathfm.wsi.mask_slide import mask_slide
from pathfm.wsi.slide import open_slide
from pathfm.wsi.tiff_writer import write_pyramidal_tiff

REPO = Path(__file__).resolve().parents[2]
MPP, TILE = 0.5, 224
GRID = (10, 8)  # slide size in 224-px tiles (columns, rows)
# slide_id: (patient, tissue rectangle (col, row, width, height) in tiles)
SLIDES = {
    "S0": ("P0", (1, 1, 8, 6)),
    "S1": ("P1", (1, 1, 6, 4)),
    "S2": ("P1", (2, 2, 3, 4)),
    "S3": ("P2", (3, 2, 4, 3)),
    "S4": ("PU", (1, 1, 6, 6)),
}
LABELS = {"P0": 1, "P1": 0, "P2": 1, "PZ": 0}  # PZ: labelled, no slide; PU: a slide, no label
TILES = {s: r[2] * r[3] for s, (_, r) in SLIDES.items()}
LABELLED = ("S0", "S1", "S2", "S3")
N_LABELLED_TILES = sum(TILES[s] for s in LABELLED)  # 96


def _slide_pixels(rect) -> np.ndarray:
    c, r, w, h = rect
    rgb = np.full((GRID[1] * TILE, GRID[0] * TILE, 3), 242, np.uint8)
    rgb[r * TILE:(r + h) * TILE, c * TILE:(c + w) * TILE] = (214, 120, 170)
    # Texture, so that two patches of one slide differ and a wrong read shows.
    rng = np.random.default_rng(sum(rect))
    return np.clip(rgb.astype(int) + rng.integers(-12, 13, rgb.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tp53_cohort")
    (root / "slides").mkdir()
    rows = []
    for slide_id, (patient, rect) in SLIDES.items():
        path = write_pyramidal_tiff(root / "slides" / f"{slide_id}.svs", _slide_pixels(rect),
                                    mpp=MPP, downsamples=(1, 4, 16), jpeg_quality=95)
        mask_slide(path, root / "masks" / slide_id, MaskParams(), slide_id=slide_id)
        rows.append({"slide_id": slide_id, "path": str(path), "md5": md5_file(path),
                     "patient": patient, "mpp": ""})
    pd.DataFrame(rows).to_csv(root / "manifest.tsv", sep="\t", index=False)
    pd.DataFrame({"patient": list(LABELS), "project": "TCGA-XX",
                  "tp53_aberrated": list(LABELS.values())}).to_csv(root / "labels.tsv", sep="\t",
                                                                    index=False)
    return root


def build(cohort: Path, out: Path, seed: int = 0, **params) -> dict:
    return build_tp53_patches(out, cohort / "manifest.tsv", cohort / "labels.tsv", cohort / "masks",
                              TP53PatchParams.from_dict(params), seed=seed, cohort="synthetic")


def built(cohort: Path, out: Path, seed: int = 0, **params) -> dict:
    build(cohort, out, seed, **params)
    return read(out)


def read(out: Path) -> dict:
    with h5py.File(out / "patches.h5", "r") as f:
        data = {k: f[k][:] for k in ("img", "label", "coords_px")}
        data |= {k: f[k][:].astype(str) for k in ("patch_id", "patient", "slide_id")}
        data["attrs"] = dict(f.attrs)
        data["chunks"], data["compression"] = f["img"].chunks, f["img"].compression
    return data


def per_slide(data: dict) -> dict[str, int]:
    ids, counts = np.unique(data["slide_id"], return_counts=True)
    return dict(zip(ids, counts.tolist()))


# The set --------------------------------------------------------------------------------


def test_patches_carry_their_patients_labels_and_only_labelled_patients(cohort, tmp_path):
    summary = build(cohort, tmp_path / "tp53", n_patches=40, chunk_patches=8)
    data = read(tmp_path / "tp53")
    n = 40
    assert data["img"].shape == (n, TILE, TILE, 3) and data["img"].dtype == np.uint8
    assert all(len(data[k]) == n for k in ("label", "coords_px", "patch_id", "patient", "slide_id"))
    assert set(data["slide_id"]) <= set(LABELLED)
    for slide, patient, label in zip(data["slide_id"], data["patient"], data["label"]):
        assert patient == SLIDES[slide][0] and label == LABELS[patient]
    assert list(data["patch_id"]) == [f"{s}:{x}_{y}" for s, (x, y) in
                                      zip(data["slide_id"], data["coords_px"])]
    assert len(set(data["patch_id"])) == n  # no tile drawn twice
    # Every patch lies in its slide's tissue rectangle, and holds that slide's pixels.
    for slide, (x, y) in zip(data["slide_id"], data["coords_px"]):
        c, r, w, h = SLIDES[slide][1]
        assert c * TILE <= x < (c + w) * TILE and r * TILE <= y < (r + h) * TILE
    i = int(np.flatnonzero(data["slide_id"] == "S0")[0])
    with open_slide(cohort / "slides" / "S0.svs") as s:
        expected = s.read_region_mpp(*data["coords_px"][i], TILE, TILE, MPP)
    np.testing.assert_array_equal(data["img"][i], expected)

    attrs = data["attrs"]
    assert attrs["n_patches"] == attrs["n_requested"] == n
    assert attrs["cohort"] == "synthetic" and attrs["seed"] == 0
    assert attrs["n_labelled_slides"] == 4 and attrs["n_tissue_tiles"] == N_LABELLED_TILES
    assert attrs["n_slides"] == len(set(data["slide_id"]))
    assert attrs["n_patients"] == len(set(data["patient"]))
    assert list(attrs["n_patches_per_class"]) == np.bincount(data["label"], minlength=2).tolist()
    patients = {p: LABELS[p] for p in set(data["patient"])}
    assert list(attrs["n_patients_per_class"]) == np.bincount(list(patients.values()),
                                                              minlength=2).tolist()
    assert json.loads(attrs["settings"]) == dataclasses.asdict(
        TP53PatchParams(n_patches=n, chunk_patches=8))
    assert attrs["n_unreadable"] == 0 and json.loads(attrs["unreadable"]) == []
    assert summary["n_patches"] == n
    # labels.tsv: the label table's rows of the patients in the set.
    table = pd.read_csv(tmp_path / "tp53" / "labels.tsv", sep="\t")
    assert list(table.columns) == ["patient", "project", "tp53_aberrated"]
    assert dict(zip(table["patient"], table["tp53_aberrated"])) == patients
    assert "PZ" not in set(table["patient"]) and "PU" not in set(table["patient"])
    # What the embed rule reads (kind tp53): patients as groups, the patches' labels.
    source = open_image_source("tp53", tmp_path / "tp53")
    assert len(source) == n and list(source.meta["group"]) == list(data["patient"])
    np.testing.assert_array_equal(source.meta["labels"], data["label"])
    np.testing.assert_array_equal(source.images(0, n), data["img"])


def test_the_draw_is_a_function_of_the_seed(cohort, tmp_path):
    a, b, c = (built(cohort, tmp_path / name, seed=seed, n_patches=20)
               for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    assert list(a["patch_id"]) == list(b["patch_id"])
    np.testing.assert_array_equal(a["img"], b["img"])
    assert set(a["patch_id"]) != set(c["patch_id"])


def test_too_many_patches_names_the_tissue_tiles(cohort, tmp_path):
    with pytest.raises(ValueError, match=f"only {N_LABELLED_TILES} tissue tiles"):
        build(cohort, tmp_path / "tp53", n_patches=N_LABELLED_TILES + 1)
    assert not (tmp_path / "tp53").exists()


# Sampling -------------------------------------------------------------------------------


def test_tile_uniform_draws_slides_in_proportion_to_their_tissue():
    counts = np.array([400, 200, 100, 100, 0])
    draws = np.array([allocate(counts, 200, "tile_uniform", np.random.default_rng(s))
                      for s in range(300)])
    assert (draws.sum(axis=1) == 200).all() and (draws <= counts).all()
    np.testing.assert_allclose(draws.mean(axis=0), 200 * counts / counts.sum(), atol=1.5)


def test_slide_uniform_draws_slides_equally_up_to_their_tiles():
    counts = np.array([400, 200, 100, 100, 0])
    draws = np.array([allocate(counts, 200, "slide_uniform", np.random.default_rng(s))
                      for s in range(300)])
    assert (draws.sum(axis=1) == 200).all() and (draws <= counts).all()
    np.testing.assert_allclose(draws.mean(axis=0), [50, 50, 50, 50, 0], atol=1.5)
    # A slide with fewer tiles than its share gives them all; the rest spreads evenly.
    small = np.array([allocate([5, 1000, 1000], 300, "slide_uniform", np.random.default_rng(s))
                      for s in range(100)])
    assert (small[:, 0] == 5).all() and (small.sum(axis=1) == 300).all()
    np.testing.assert_allclose(small[:, 1:].mean(axis=0), [147.5, 147.5], atol=3)


@pytest.mark.parametrize("sampling", tp.SAMPLINGS)
def test_the_set_follows_the_sampling(cohort, tmp_path, sampling):
    n, seeds = 32, range(6)
    totals = dict.fromkeys(LABELLED, 0)
    for seed in seeds:
        build(cohort, tmp_path / f"s{seed}", seed=seed, n_patches=n, sampling=sampling)
        got = per_slide(read(tmp_path / f"s{seed}"))
        # Exactly the allocation of the seed's generator over the slides' tile counts.
        expected = allocate([TILES[s] for s in LABELLED], n, sampling, np.random.default_rng(seed))
        assert [got.get(s, 0) for s in LABELLED] == expected.tolist()
        for s in LABELLED:
            totals[s] += got.get(s, 0)
    share = (np.array([TILES[s] for s in LABELLED]) / N_LABELLED_TILES
             if sampling == "tile_uniform" else np.full(4, 0.25))
    # 192 patches in all: within ~3.5 standard deviations of a draw.
    np.testing.assert_allclose([totals[s] for s in LABELLED], share * n * len(seeds), atol=20)


# Memory and atomicity --------------------------------------------------------------------


def test_pixels_are_written_chunk_by_chunk(cohort, tmp_path, monkeypatch):
    n, chunk = 90, 5
    grids = tp._grids

    def grids_then_reset_peak(*args):
        # The tile grids' integral images scale with the masks, not with the patches.
        grids(*args)
        tracemalloc.reset_peak()

    monkeypatch.setattr(tp, "_grids", grids_then_reset_peak)
    tracemalloc.start()
    try:
        build(cohort, tmp_path / "tp53", n_patches=n, chunk_patches=chunk, compression="gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    data = read(tmp_path / "tp53")
    assert data["img"].shape[0] == n
    assert data["chunks"] == (chunk, TILE, TILE, 3) and data["compression"] == "gzip"
    # A chunk of 5 patches is 0.75 MB of the 13.5 MB of pixels.
    assert peak < data["img"].nbytes / 5, (peak, data["img"].nbytes)


def test_a_failed_build_leaves_the_previous_set_and_no_partial_file(cohort, tmp_path):
    out = tmp_path / "tp53"
    before = built(cohort, out, seed=1, n_patches=12)["patch_id"]

    def stop_after_s0(slide_id, k):
        if slide_id == "S0":
            raise KeyboardInterrupt("stopped")

    def interrupted_build():
        with pytest.raises(KeyboardInterrupt):
            build_tp53_patches(out, cohort / "manifest.tsv", cohort / "labels.tsv",
                               cohort / "masks", TP53PatchParams(n_patches=30), seed=2,
                               on_slide=stop_after_s0)

    interrupted_build()
    assert list(read(out)["patch_id"]) == list(before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tp53"]  # no .part, no .lock
    shutil.rmtree(out)
    interrupted_build()
    assert list(tmp_path.iterdir()) == []


# Unreadable slides -----------------------------------------------------------------------


def _damage_level0_rows(src: Path, dst: Path, first_row: int) -> None:
    """``src`` copied to ``dst`` with the JPEG data of level 0's 256-px tiles from
    ``first_row`` down overwritten: reads there fail, reads above still decode."""
    data = bytearray(src.read_bytes())
    with tifffile.TiffFile(src) as tif:
        page = tif.pages[0]
        across = -(-page.imagewidth // 256)
        spans = list(zip(page.dataoffsets, page.databytecounts))
    rng = np.random.default_rng(0)
    for i, (offset, count) in enumerate(spans):
        if i // across >= first_row:
            half = count // 2
            data[offset + half:offset + count] = rng.integers(0, 256, count - half,
                                                              dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))


@pytest.fixture
def damaged(cohort, tmp_path) -> Path:
    """The cohort with S1 damaged after it was masked, below its first two tissue rows
    (its tissue spans grid rows 1-4: y 224-1120 px; TIFF rows from 3 start at y 768)."""
    root = tmp_path / "damaged"
    shutil.copytree(cohort, root)
    manifest = pd.read_csv(root / "manifest.tsv", sep="\t")
    manifest["path"] = [str(root / "slides" / f"{s}.svs") for s in manifest["slide_id"]]
    manifest.to_csv(root / "manifest.tsv", sep="\t", index=False)
    _damage_level0_rows(cohort / "slides" / "S1.svs", root / "slides" / "S1.svs", 3)
    return root


@pytest.fixture(autouse=True)
def _restore_logging(restore_root_logging):
    """The commands these tests run reconfigure the root logger."""


def _argv(root: Path, out: Path, params: dict) -> list[str]:
    return ["--cohort", "synthetic", "--manifest", str(root / "manifest.tsv"),
            "--labels", str(root / "labels.tsv"), "--masks-dir", str(root / "masks"),
            "--mpp-policy", "fallback", "--params", json.dumps(params), "--seed", "0",
            "--out", str(out)]


def test_an_unreadable_slide_fails_the_build_by_default(damaged, tmp_path, capsys):
    params = {"n_patches": 60, "chunk_patches": 3}
    with pytest.raises(SlideReadError, match="S1.svs"):
        build(damaged, tmp_path / "tp53", **params)
    assert command.main(_argv(damaged, tmp_path / "tp53", params)) == 1
    err = capsys.readouterr().err
    assert "S1.svs" in err and "does not decode" in err and "rm " in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged"]


def test_skip_leaves_the_unreadable_slide_out_and_records_it(cohort, damaged, tmp_path,
                                                              monkeypatch, caplog):
    # chunk 3: S1's first patches are partly written out, partly still buffered with the
    # end of S0's, when its read fails; only S1's may go.
    params = {"n_patches": 60, "chunk_patches": 3}
    dropped = []
    drop = tp._PatchWriter.drop_slide

    def spy(self):
        dropped.append(len(self) - self._mark)
        drop(self)

    monkeypatch.setattr(tp._PatchWriter, "drop_slide", spy)
    clean = built(cohort, tmp_path / "clean", **params)
    with caplog.at_level(logging.WARNING, logger="pathfm.sources.tp53_patches"):
        summary = build(damaged, tmp_path / "skip", on_unreadable="skip", **params)
    got = read(tmp_path / "skip")
    k_s1 = per_slide(clean)["S1"]
    assert dropped and dropped[0] > 0  # some of S1 was read before the damage
    assert got["attrs"]["n_unreadable"] == 1 and summary["n_unreadable"] == 1
    (record,) = json.loads(got["attrs"]["unreadable"])
    assert record["slide_id"] == "S1" and record["patches"] == k_s1 and "S1.svs" in record["error"]
    assert "S1" not in set(got["slide_id"]) and got["attrs"]["n_patches"] == 60 - k_s1
    keep = clean["slide_id"] != "S1"
    assert list(got["patch_id"]) == list(clean["patch_id"][keep])
    np.testing.assert_array_equal(got["img"], clean["img"][keep])
    np.testing.assert_array_equal(got["label"], clean["label"][keep])
    assert any("skipping S1" in r.getMessage() for r in caplog.records)


# The config's settings -------------------------------------------------------------------


def test_config_params_are_the_codes_settings_with_its_defaults():
    schema = yaml.safe_load((REPO / "workflow/schemas/patch_bench.schema.yaml").read_text())
    props = schema["$defs"]["tcga_params"]["tp53"]["properties"]
    code = {f.name: f.default for f in dataclasses.fields(TP53PatchParams)}
    assert set(props) - {"cohort", "labels"} == set(code)
    assert {k: props[k]["default"] for k in code} == code
    assert props["sampling"]["enum"] == list(tp.SAMPLINGS)
    assert set(props["on_unreadable"]["enum"]) == set(tp.ON_UNREADABLE)
    assert set(props["compression"]["enum"]) == set(tp.COMPRESSIONS)
