"""PLISM scripts on a tiny set: render → register → matched tiles → embed → bench → report."""

from __future__ import annotations

import csv
import importlib
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pathfm.bench.plism import PlismMetricSettings, evaluate_pairs, robustness_result, slide_pairs
from pathfm.wsi.tile_store import open_tile_store

REPO = Path(__file__).resolve().parents[2]
SLIDES = ["GMH_S60", "GMH_AT2", "GVH_S60", "GVH_AT2"]
FAST_REG = {"channel": "grey", "shrink": [4, 2, 1], "smooth": [2.0, 1.0, 0.0], "rigid_iterations": 100,
            "affine_iterations": 100, "bspline_shrink": [1], "bspline_smooth": [0.0],
            "bspline_iterations": 30, "bspline_grid_um": 96.0, "threads": 1}


def load_script(name: str):
    """The step ``pathfm.commands.<name>`` (``pathfm <name>``)."""
    return importlib.import_module(f"pathfm.commands.{name}")


@pytest.fixture(scope="module")
def plism_set(tmp_path_factory):
    """2 stainings × 2 scanners of two small punches (one would be nearly rotation-symmetric),
    registered and tiled (48-px tiles)."""
    root = tmp_path_factory.mktemp("plism_set")
    synth = json.dumps({"rows": 1, "cols": 2, "punch_radius_um": 110.0, "pitch_um": 260.0,
                        "margin_um": 40.0, "warp_kwargs": {"max_rotation_deg": 4.0}})
    assert load_script("synth_plism").main([
        "--out-dir", str(root), "--stainings", "GMH", "GVH", "--scanners", "S60", "AT2",
        "--reference", "GMH_S60", "--seed", "3", "--params", synth]) == 0
    register = load_script("plism_register")
    for slide_id in SLIDES:
        args = ["--reference", str(root / "slides/GMH_S60.svs"),
                "--moving", str(root / f"slides/{slide_id}.svs"), "--slide-id", slide_id,
                "--mpp", "2.0", "--params", json.dumps(FAST_REG), "--tile-mpp", "0.5",
                "--ground-truth", str(root / "ground_truth.json")]
        args += ["--identity"] if slide_id == "GMH_S60" else []
        out = root / "transforms" / slide_id
        assert register.main(args + ["--tfm", f"{out}.tfm", "--qc", f"{out}.qc.png",
                                     "--info", f"{out}.json"]) == 0
    tiling = json.dumps({"tile_px": 48, "target_mpp": 0.5, "min_tissue": 0.8})
    assert load_script("plism_tiles").main(
        ["--source", "raw", "--reference-id", "GMH_S60",
         "--slides", *[f"{s}={root}/slides/{s}.svs" for s in SLIDES],
         "--transforms", *[f"{s}={root}/transforms/{s}.tfm" for s in SLIDES],
         "--params", tiling, "--out-dir", str(root / "tiles")]) == 0
    return root


def test_render_writes_every_slide_and_the_truth(plism_set):
    truth = json.loads((plism_set / "ground_truth.json").read_text())
    assert sorted(truth["slides"]) == sorted(SLIDES)
    assert truth["punch_radius_um"] == 110.0
    with pytest.raises(SystemExit, match="reference"):
        load_script("synth_plism").main(["--out-dir", str(plism_set / "x"), "--stainings", "GV",
                                         "--scanners", "AT2", "--reference", "GMH_S60",
                                         "--seed", "0", "--params", "{}"])


def test_registration_meets_the_tre_target(plism_set):
    for slide_id in SLIDES:
        info = json.loads((plism_set / "transforms" / f"{slide_id}.json").read_text())
        assert (plism_set / "transforms" / f"{slide_id}.qc.png").stat().st_size > 500
        print(slide_id, info["tre"], info["tre_before_median_px"])
        assert info["tre"]["median_px"] <= 2.0 and info["tre"]["p95_px"] <= 5.0
        if slide_id == "GMH_S60":
            assert info["identity"] and info["tre"]["max_px"] < 1e-6
        else:
            assert info["tre_before_median_px"] > 5.0  # there was something to correct


def test_matched_stores_share_tile_ids(plism_set):
    stores = [open_tile_store(plism_set / "tiles" / f"{s}.zarr") for s in SLIDES]
    ids = stores[0]["tile_id"][:]
    assert len(ids) >= 10
    for store in stores[1:]:
        np.testing.assert_array_equal(store["tile_id"][:], ids)
        assert store["pixels"].shape == (len(ids), 48, 48, 3)


def test_embed_bench_and_report(plism_set, tmp_path):
    embed = load_script("embed")
    for s in SLIDES:
        assert embed.main(["--model", "demo-vit-s8-random", "--kind", "tiles", "--tiles",
                           str(plism_set / "tiles" / f"{s}.zarr"), "--workers", "0",
                           "--dtype", "float16", "--batch-size", "64", "--shard-size", "4096",
                           "--autocast", "auto",
                           "--out", str(tmp_path / "emb" / f"{s}.zarr")]) == 0
    out = tmp_path / "bench" / "demo-vit-s8-random.json"
    assert load_script("plism_bench").main([
        "--model", "demo-vit-s8-random", "--plism-set", "tiny",
        "--embeddings", *[f"{s}={tmp_path}/emb/{s}.zarr" for s in SLIDES],
        "--tiles", *[f"{s}={plism_set}/tiles/{s}.zarr" for s in SLIDES],
        "--settings", '{"top_k": [1, 5], "device": "cpu"}', "--leaderboard-k", "5",
        "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["benchmark"] == "plism" and result["task"] == "tiny"
    assert result["protocol"] == "plism-robustness-v1"
    assert not {"seconds", "images_per_s"} & set(result["provenance"])  # rerun: same bytes
    assert len(result["pairs"]) == 6
    assert result["metrics"]["inter_scanner"]["top_1_accuracy"]["n_pairs"] == 2
    assert result["metrics"]["inter_both"]["cosine_similarity"]["n_pairs"] == 2
    assert 0 <= result["leaderboard_score"] <= 1
    assert result["settings"]["top_k"] == [1, 5]


def test_bench_refuses_mismatched_tiles(plism_set, tmp_path):
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(plism_set / "tiles" / "GMH_AT2.zarr", bad / "GMH_AT2.zarr")
    import zarr

    g = zarr.open_group(str(bad / "GMH_AT2.zarr"), mode="r+")
    g["tile_id"][0] = -1
    with pytest.raises(ValueError, match="tile ids differ"):
        load_script("plism_bench").main([
            "--model", "m", "--plism-set", "s",
            "--embeddings", "GMH_S60=x", "GMH_AT2=y",
            "--tiles", f"GMH_S60={plism_set}/tiles/GMH_S60.zarr", f"GMH_AT2={bad}/GMH_AT2.zarr",
            "--settings", "{}", "--leaderboard-k", "10", "--out", str(tmp_path / "r.json")])


def _fake_result(model: str, noise: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(40, 16))
    names = [f"{st}_{sc}" for st in ("GMH", "GVH") for sc in ("S60", "AT2", "P")]
    feats = {n: base + noise * rng.normal(size=base.shape) for n in names}
    settings = PlismMetricSettings(top_k=(1, 5, 10), device="cpu")
    rows = evaluate_pairs(feats.__getitem__, slide_pairs(names), settings)
    return robustness_result(model, "fake", rows, settings, {"test": True})


def test_report_builds_table_and_figures(tmp_path):
    paths = []
    for i, (model, noise) in enumerate((("demo-h0-mini", 0.3), ("other-model", 3.0))):
        paths.append(tmp_path / f"{model}.json")
        paths[-1].write_text(json.dumps(_fake_result(model, noise, i)))
    stem_t, stem_1, stem_4 = tmp_path / "t/table", tmp_path / "f/fig1", tmp_path / "f/fig4"
    assert load_script("plism_report").main([
        "--results", *map(str, paths),
        "--published", str(REPO / "config/paper_values/h0mini_table3_plism.csv"),
        "--published-as", '{"demo-h0-mini": "H0-Mini"}',
        "--table", str(stem_t), "--fig1", str(stem_1), "--fig4", str(stem_4)]) == 0
    rows = list(csv.DictReader(open(f"{stem_t}.csv")))
    assert [r["Model"] for r in rows] == ["demo-h0-mini", "other-model"]  # by top-1, less noise first
    assert rows[0]["Cosine similarity (paper)"] == "0.876 (0.075)"
    assert rows[1]["Top-1 accuracy (paper)"] == "—"
    assert float(rows[0]["top_1_accuracy_mean"]) > float(rows[1]["top_1_accuracy_mean"])
    md = Path(f"{stem_t}.md").read_text()
    assert "| demo-h0-mini | H0-Mini |" in md
    assert r"\begin{tabular}" in Path(f"{stem_t}.tex").read_text()
    for stem in (stem_1, stem_4):
        for ext in ("png", "svg"):
            assert Path(f"{stem}.{ext}").stat().st_size > 1000


def test_hub_files_become_tile_stores(tmp_path):
    rng = np.random.default_rng(0)
    xy = [(448, 224), (0, 224), (224, 0)]
    tiles = {}
    for slide in ("GMH_S60", "GVH_AT2"):
        path = tmp_path / f"{slide}_to_GMH_S60.tif.h5"
        with h5py.File(path, "w") as f:
            for x, y in xy:
                tiles[(slide, x, y)] = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
                f[f"{slide}_17_{x}_{y}"] = tiles[(slide, x, y)]
    assert load_script("plism_tiles").main([
        "--source", "hub", "--reference-id", "GMH_S60", "--slides",
        *[f"{s}={tmp_path}/{s}_to_GMH_S60.tif.h5" for s in ("GMH_S60", "GVH_AT2")],
        "--params", '{"tile_px": 16}', "--expected-tiles", "3",
        "--out-dir", str(tmp_path / "tiles")]) == 0
    store = open_tile_store(tmp_path / "tiles" / "GVH_AT2.zarr")
    order = sorted(xy)  # plismbench's (x, y) order
    np.testing.assert_array_equal(store["coords_px"][:], np.array(order))
    np.testing.assert_array_equal(store["tile_id"][:], [(x << 32) | y for x, y in order])
    np.testing.assert_array_equal(store["pixels"][1], tiles[("GVH_AT2", *order[1])])
