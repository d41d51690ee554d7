"""Patch-benchmark rules: demo and paper dry-runs name the right jobs; a tiny probe runs end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from pathfm.embed.store import open_embedding_store
from tests.dry_run import arg_value, dag_jobs, has_args, planned_files, shell_commands

from .conftest import snakemake

pytestmark = [pytest.mark.workflow]

RANDOM = "demo-vit-s8-random"


def test_demo_dry_run_builds_every_patch_result(workdir):
    targets = [f"results/bench/linear_probe-{p}/{t}/{RANDOM}.json" for p in ("kaiko2024", "eva")
               for t in ("bach", "crc", "mhist", "pcam")]
    targets += [f"results/bench/hest-{p}/DEMO/{RANDOM}.json" for p in ("cls", "cls_mean")]
    targets += [f"results/bench/tp53/tp53/{RANDOM}.json", f"results/bench/unsupervised/crc/{RANDOM}.json"]
    r = snakemake("--d3dag", *targets, cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    counts = dag_jobs(r.stdout)
    for rule, n in (("build_demo_dataset", 6), ("embed", 6), ("linear_probe", 4), ("hest_bench", 2),
                    ("tp53_bench", 1), ("unsupervised_metrics", 1)):
        assert counts[rule] == n, (rule, counts)
    assert "fetch_dataset" not in counts and "fetch_weights" not in counts
    # TP53's own settings go over the shared demo probe overrides (config patch_bench.tp53.overrides).
    r = snakemake("-n", "-p", f"results/bench/tp53/tp53/{RANDOM}.json", cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    (tp53,) = shell_commands(r.stdout)["tp53_bench"]
    assert json.loads(arg_value(tp53, "--overrides"))["max_steps"] == 2000, tp53
    assert arg_value(tp53, "--overrides-name") == "demo_tp53", tp53


def test_paper_dry_run_fetches_weights_and_datasets(workdir):
    r = snakemake("-n", "-p", "--configfile", "config/paper.yaml", "--",
                  "results/bench/hest-cls_mean/IDC/h0-mini.json", "results/bench/linear_probe-eva/bach/uni.json",
                  cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    commands = shell_commands(r.stdout)
    assert "build_demo_dataset" not in commands
    assert [c for c in commands["fetch_weights"]
            if has_args(c, "--model", "h0-mini", "--hub-id", "bioptimus/H0-mini")], commands["fetch_weights"]
    assert [c for c in commands["fetch_dataset"]
            if has_args(c, "--dataset", "hest", "--root", "results/datasets/hest", "--tasks", "IDC")], (
        commands["fetch_dataset"])
    # The HEST embedding store keeps the poolings the hest-cls / hest-cls_mean protocols read.
    (embed,) = [c for c in commands["embed"] if has_args(c, "--out", "results/embeddings/h0-mini/hest-IDC.zarr")]
    assert has_args(embed, "--extra-poolings", "cls", "cls+mean"), embed


def test_model_list_skips_models_without_weights(workdir, monkeypatch):
    cfg = yaml.safe_load((workdir / "config/config.yaml").read_text())
    cfg["embed"]["models"] = [RANDOM, "local-vit"]
    # A user model whose weights file is absent and made by no rule.
    registry = yaml.safe_load((workdir / "config/models.yaml").read_text())
    registry["models"]["local-vit"] = {**registry["models"][RANDOM],
                                       "weights": {"source": "path", "path": "nowhere/weights.safetensors"}}
    (workdir / "models.yaml").write_text(yaml.safe_dump(registry))
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("PATHFM_MODELS_YAML", str(workdir / "models.yaml"))
    r = snakemake("--summary", "results/bench/unsupervised/crc/demo-vit-s8-random.json", "all", cwd=workdir)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    files = planned_files(r.stdout)
    assert [f for f in files if f.startswith("results/embeddings/local-vit/")] == []
    assert files.get(f"results/bench/linear_probe-eva/bach/{RANDOM}.json") == "linear_probe"


@pytest.mark.slow
def test_tiny_probe_end_to_end(workdir):
    cfg = yaml.safe_load((workdir / "config/config.yaml").read_text())
    cfg["patch_bench"]["datasets"]["crc"]["params"] = {"per_class": [6, 3], "section_um": 800.0}
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    targets = [f"results/bench/linear_probe-kaiko2024/crc/{RANDOM}.json", f"results/bench/unsupervised/crc/{RANDOM}.json"]
    r = snakemake("--cores", "2", *targets, cwd=workdir, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((workdir / targets[0]).read_text())
    assert res["benchmark"] == "linear_probe-kaiko2024" and res["model"] == RANDOM
    assert res["protocol"]["settings"]["overrides_name"] == "demo" and len(res["seeds"]) == 5
    assert set(res["metrics"]["balanced_accuracy"]) == {"mean", "std", "runs"}
    assert (workdir / f"results/bench/linear_probe-eva/crc/{RANDOM}.json").exists()
    uns = json.loads((workdir / targets[1]).read_text())
    # RankMe and ODCorr recomputed from the store the run wrote, by their textbook definitions
    # (SVD; the N x N matrix of row correlations), not by pathfm.bench.unsupervised's chunked
    # Gram-matrix forms.
    x = open_embedding_store(workdir / f"results/embeddings/{RANDOM}/crc.zarr").features[:]
    x = np.asarray(x, dtype=np.float64)
    settings = uns["protocol"]["settings"]
    assert settings["max_samples"] >= len(x) and settings["n"] == len(x) >= 2  # no subsample
    assert settings["dim"] == x.shape[1]
    sigma = np.linalg.svd(x, compute_uv=False)
    p = sigma / sigma.sum() + 1e-7
    rankme = float(np.exp(-np.sum(p * np.log(p))))
    r = np.nan_to_num(np.corrcoef(x))  # constant rows correlate 0
    odcorr = float(np.sqrt(np.sum(r[~np.eye(len(x), dtype=bool)] ** 2) / (len(x) * (len(x) - 1))))
    assert uns["metrics"]["rankme"]["runs"] == [pytest.approx(rankme, rel=1e-6, abs=1e-6)]
    assert uns["metrics"]["odcorr"]["runs"] == [pytest.approx(odcorr, rel=1e-6, abs=1e-6)]
    assert uns["metrics"]["rankme"]["mean"] == pytest.approx(rankme, rel=1e-6, abs=1e-6)
    assert uns["metrics"]["odcorr"]["mean"] == pytest.approx(odcorr, rel=1e-6, abs=1e-6)
