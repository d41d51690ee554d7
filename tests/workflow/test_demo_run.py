"""The demo's foundation stages through Snakemake on the default config: 8 synthetic
slides, masks, tiles and the QC sheet. Later stages have their own workflow tests on
small configs; `make demo` runs `all`."""

from __future__ import annotations

import pandas as pd
import pytest
import zarr

from .conftest import snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    import shutil

    from .conftest import REPO

    workdir = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "config", workdir / "config")
    result = snakemake("--cores", "2", "tiles_only", "results/qc/demo/summary.png", cwd=workdir,
                       timeout=1500)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def test_every_slide_is_masked_at_iou_095(demo_run):
    qc = pd.read_csv(demo_run / "results/qc/demo/summary.tsv", sep="\t")
    assert len(qc) == 8
    assert (qc["mask_iou_vs_truth"] >= 0.95).all(), qc[["slide_id", "mask_iou_vs_truth"]]
    # level-0 mpp varies between slides, so the exact-mpp logic is exercised
    assert qc["level0_mpp"].max() - qc["level0_mpp"].min() > 0.005


def test_tile_stores_follow_the_contract(demo_run):
    stores = sorted((demo_run / "results/tiles/demo/mpp0.50_px224").glob("*.zarr"))
    assert len(stores) == 8
    for store in stores:
        group = zarr.open_group(str(store), mode="r")
        n = group.attrs["n_tiles"]
        assert n > 0 and group["coords_px"].shape == (n, 2)
        assert group["pixels"].shape == (n, 224, 224, 3)
        assert group.attrs["target_mpp"] == 0.5
        assert abs(group.attrs["tile_size_level0_px"] * group.attrs["level0_mpp"] - 112) < 1e-6


def test_every_job_logged_and_rerun_is_a_no_op(demo_run):
    logs = list((demo_run / "logs").rglob("*.log"))
    assert len(logs) >= 8 * 3 + 2
    result = snakemake("-n", "--cores", "1", "tiles_only", "results/qc/demo/summary.png",
                       cwd=demo_run)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr
