import numpy as np
import pandas as pd

from pathfm.demo_slide_tasks import SlideTruth, grade_label, metastasis_label, nuclei_mask, survival_times
from pathfm.demo_slide_tasks.cohort import build_cohort
from pathfm.wsi.synth.legend import CODES


def test_labels_from_tissue_map():
    lab = np.zeros((10, 10), np.uint8)
    lab[:, :5] = CODES["stroma"]
    lab[:2, :5] = CODES["tumour"]          # 10 of 50 tissue pixels
    t = SlideTruth.from_labels(lab)
    assert t.tumour == 0.2 and metastasis_label(t) == 1 and grade_label(t) == 2
    assert grade_label(SlideTruth(0.0, 0, 0)) == 0 and metastasis_label(SlideTruth(0.0, 0, 0)) == 0


def test_survival_hazard_follows_tumour():
    truths = [SlideTruth(0.0, 0, 0)] * 300 + [SlideTruth(0.6, 0.2, 0)] * 300
    time, event = survival_times(truths, seed=0)
    assert np.median(time[300:]) < 0.5 * np.median(time[:300]) and 0 < event.mean() < 1


def test_nuclei_mask_finds_dark_blobs_and_classes():
    h = np.full((40, 40), 0.2, np.float32)
    h[10:14, 10:14] = 1.0
    h[30:33, 30:33] = 1.0
    lab = np.full((40, 40), CODES["stroma"], np.uint8)
    lab[:20, :20] = CODES["tumour"]
    m = nuclei_mask(h, lab)
    assert (m == 1).sum() == 16 and (m == 4).sum() == 9 and (m > 0).sum() == 25


def test_build_small_cohort(tmp_path):
    table = build_cohort(tmp_path / "c", n_slides=2, seed=1, size_um=200, tile_px=32)
    assert list(table["slide_id"]) == ["demo-slide-000", "demo-slide-001"]
    assert {"metastasis", "grade", "time", "event"} <= set(table.columns)
    import zarr
    z = zarr.open_group(str(tmp_path / "c" / "tiles" / "demo-slide-000.zarr"), mode="r")
    assert z["pixels"].shape[1:] == (32, 32, 3) and z["tissue"].shape[0] == z["pixels"].shape[0]
    assert z.attrs["slide_id"] == "demo-slide-000" and z.attrs["tile_px"] == 32
    assert len(pd.read_csv(tmp_path / "c" / "retrieval.tsv", sep="\t")) == table["n_tiles"].sum()


def test_cohort_tiles_are_tile_stores_with_roi_coords(tmp_path):
    from pathfm.embed import open_image_source

    build_cohort(tmp_path / "c", n_slides=3, seed=2, size_um=200, tile_px=32)
    stores = [str(tmp_path / "c" / "tiles" / f"demo-slide-{i:03d}.zarr") for i in range(3)]
    src = open_image_source("tiles", stores=stores)
    roi = pd.read_csv(tmp_path / "c" / "retrieval.tsv", sep="\t")
    assert len(src) == len(roi) and src.image(0).shape == (32, 32, 3)
    # ROI rows name the tile by (slide, x, y), the keys embeddings carry (group, coords_px).
    assert list(zip(roi["slide_id"], roi["x"], roi["y"])) == \
        [(g, int(x), int(y)) for g, (x, y) in zip(src.meta["group"], src.meta["coords_px"])]
    assert set(roi.loc[roi["slide_id"] == "demo-slide-002", "split"]) == {"query"}
    assert set(roi.loc[roi["slide_id"] != "demo-slide-002", "split"]) == {"train"}
