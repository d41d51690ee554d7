"""Camelyon16 / PANDA slide cohorts: slide tables from the real folder layouts and eva's
sampled tiling of real tiled TIFFs (small ones the tests write)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr

from pathfm.commands import slide_dataset_table, tile_dataset_shard, tile_dataset_slide
from pathfm.sources.slide_datasets import sample_indices, slide_table
from pathfm.wsi.slide import open_slide
from pathfm.wsi.tiff_writer import write_pyramidal_tiff


MASK = {"mpp": 2.0, "saturation_threshold": 8, "min_tissue_area_um2": 2000.0, "max_hole_area_um2": 2000.0}


def _slide(path: Path, mpp: float, side: int = 1792, tissue: slice = slice(224, 1344)) -> Path:
    """A generic tiled TIFF: white glass with one pink tissue square."""
    rgb = np.full((side, side, 3), 245, np.uint8)
    rgb[tissue, tissue] = (200, 110, 170)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_pyramidal_tiff(path, rgb, mpp=mpp, layout="generic", downsamples=(1, 4))


def _camelyon16(root: Path) -> None:
    for name in ("normal_001", "tumor_001"):
        (root / "training" / name.split("_")[0]).mkdir(parents=True)
    _slide(root / "training/tumor/tumor_001.tif", 0.25)
    (root / "training/normal/normal_001.tif").write_bytes(b"")
    (root / "testing/images").mkdir(parents=True)
    (root / "testing/images/test_002.tif").write_bytes(b"")
    (root / "testing/reference.csv").write_text("test_002,Normal,,\n")


def test_camelyon16_table_and_eva_tiling(tmp_path):
    root = tmp_path / "camelyon16"
    _camelyon16(root)
    out = tmp_path / "sd" / "slides.tsv"
    assert slide_dataset_table.main(["--dataset", "camelyon16", "--root", str(root), "--out", str(out)]) == 0
    df = pd.read_csv(out, sep="\t").set_index("slide_id")
    assert df["metastasis"].to_dict() == {"normal_001": 0, "tumor_001": 1, "test_002": 0}
    assert df["split"].to_dict() == {"normal_001": "train", "tumor_001": "val", "test_002": "test"}
    assert (df["patient"] == df.index).all()
    # 0.25 µm/px, 224-px tiles: the 1,120-px tissue square holds 5 × 5 whole grid tiles.
    store = tmp_path / "sd" / "tiles" / "tumor_001.zarr"
    args = ["--slide", df.loc["tumor_001", "path"], "--slide-id", "tumor_001", "--mask-params",
            __import__("json").dumps(MASK), "--tiling", '{"mpp": 0.25, "tile_px": 224, "min_tissue": 0.35}',
            "--max-tiles", "10", "--seed", "42", "--mask-out", str(tmp_path / "sd/masks/tumor_001"),
            "--out", str(store)]
    assert tile_dataset_slide.main(args) == 0
    z = zarr.open_group(str(store), mode="r")
    assert z.attrs["n_tissue_tiles"] == 25 and z.attrs["n_tiles"] == 10 and z.attrs["target_mpp"] == 0.25
    coords = z["coords_px"][:]
    assert z["pixels"].shape == (10, 224, 224, 3) and (np.diff(coords[:, 1] * 10**6 + coords[:, 0]) > 0).all()
    assert coords.min() >= 224 and coords.max() <= 1344 - 224
    with open_slide(df.loc["tumor_001", "path"]) as s:
        x, y = coords[3]
        assert np.array_equal(z["pixels"][3], s.read_region_mpp(x, y, 224, 224, 0.25))
    assert np.abs(z["pixels"][:].astype(int) - (200, 110, 170)).max() < 30  # JPEG tiles


def test_panda_table_reads_isup_grade_and_drops_noisy(tmp_path):
    root = tmp_path / "panda"
    (root / "train_images").mkdir(parents=True)
    ids = [f"img{i:02d}" for i in range(20)]
    for i in ids:
        (root / "train_images" / f"{i}.tiff").write_bytes(b"")
    pd.DataFrame({"image_id": ids, "data_provider": "radboud", "isup_grade": [i % 4 for i in range(20)],
                  "gleason_score": "3+3", "noise_ratio_10": [0] * 2 + [1] * 18}
                 ).to_csv(root / "train_with_noisy_labels.csv", index=False)
    df = slide_table("panda", root)
    assert list(df.columns) == ["slide_id", "patient", "path", "split", "isup_grade"]
    assert len(df) == 18 and set(df["split"]) == {"train", "val", "test"}
    assert df.set_index("slide_id")["isup_grade"].to_dict()["img05"] == 1


def test_panda_slide_tiles_at_half_micron(tmp_path):
    path = _slide(tmp_path / "panda/train_images/abc.tiff", 0.25, side=1792, tissue=slice(0, 1792))
    store = tmp_path / "abc.zarr"
    args = ["--slide", str(path), "--slide-id", "abc", "--mask-params", __import__("json").dumps(MASK),
            "--tiling", '{"mpp": 0.5, "tile_px": 224}', "--max-tiles", "1000",
            "--mask-out", str(tmp_path / "m"), "--out", str(store)]
    assert tile_dataset_slide.main(args) == 0
    z = zarr.open_group(str(store), mode="r")
    # 1,792 px at 0.25 µm/px = 896 px at 0.5: 4 × 4 tiles, all kept (fewer than max_tiles).
    assert z.attrs["n_tiles"] == z.attrs["n_tissue_tiles"] == 16 and z["pixels"].shape == (16, 224, 224, 3)


def test_shard_tiles_its_run_of_slides_and_resumes(tmp_path, monkeypatch):
    """Shard 1 of 5 slides in runs of 2: slides 3 and 4 of the table, one store and one mask
    folder each; a rerun after a failure redoes only the slide that was not finished."""
    rows = []
    for i in range(5):
        path = _slide(tmp_path / f"slides/s{i}.tif", 1.0, side=512, tissue=slice(64, 448))
        rows.append({"slide_id": f"s{i}", "patient": f"s{i}", "path": str(path), "split": "train"})
    table = tmp_path / "slides.tsv"
    pd.DataFrame(rows).to_csv(table, sep="\t", index=False)
    tiles, masks = tmp_path / "tiles/shard00001", tmp_path / "masks/shard00001"
    args = ["--table", str(table), "--slides-per-job", "2", "--shard", "1", "--mask-params",
            __import__("json").dumps(MASK), "--tiling", '{"mpp": 1.0, "tile_px": 32, "stride_px": 32, "min_tissue": 0.35}',
            "--max-tiles", "20", "--seed", "42", "--tiles-out", str(tiles), "--masks-out", str(masks)]
    calls = []
    real = tile_dataset_shard.tile_dataset_slide

    def failing_second(path, slide_id, *rest):
        calls.append(slide_id)
        if slide_id == "s3":
            raise RuntimeError("killed")
        return real(path, slide_id, *rest)

    monkeypatch.setattr(tile_dataset_shard, "tile_dataset_slide", failing_second)
    with pytest.raises(RuntimeError, match="killed"):
        tile_dataset_shard.main(args)
    assert not tiles.exists() and not masks.exists() and calls == ["s2", "s3"]
    monkeypatch.setattr(tile_dataset_shard, "tile_dataset_slide", lambda *a: calls.append(a[1]) or real(*a))
    assert tile_dataset_shard.main(args) == 0
    assert calls == ["s2", "s3", "s3"]  # s2 was finished before the failure
    assert sorted(p.name for p in tiles.iterdir()) == ["s2.zarr", "s3.zarr"]
    assert sorted(p.name for p in masks.iterdir()) == ["s2", "s3", "shard.json"]
    summary = __import__("json").loads((masks / "shard.json").read_text())
    assert [r["slide_id"] for r in summary["slides"]] == ["s2", "s3"] and summary["n_resumed"] == 1
    for sid in ("s2", "s3"):
        z = zarr.open_group(str(tiles / f"{sid}.zarr"), mode="r")
        # 384 µm of tissue at 1 µm/px: 12 × 12 grid tiles of 32 px, 20 drawn.
        assert z.attrs["slide_id"] == sid and z.attrs["n_tiles"] == 20 and z["pixels"].shape == (20, 32, 32, 3)
        assert (masks / sid / "mask.json").is_file()
    assert not list(tmp_path.glob("*/*.partial"))


def test_sample_indices_seeded_sorted_and_capped():
    a = sample_indices(100, 10, 42)
    assert len(a) == 10 and (np.diff(a) > 0).all() and np.array_equal(a, sample_indices(100, 10, 42))
    assert not np.array_equal(a, sample_indices(100, 10, 1))
    assert np.array_equal(sample_indices(5, 10, 42), np.arange(5))


def test_unknown_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no slide-benchmark loader"):
        slide_table("bach", tmp_path)
