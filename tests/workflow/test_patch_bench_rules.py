"""Patch-benchmark rules: demo and paper dry-runs name the right jobs; a tiny probe runs end to end."""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import snakemake

pytestmark = [pytest.mark.workflow]

RANDOM = "demo-vit-s8-random"


def test_demo_dry_run_builds_every_patch_result(workdir):
    targets = [f"results/bench/linear_probe-{p}/{t}/{RANDOM}.json" for p in ("kaiko2024", "eva")
               for t in ("bach", "crc", "mhist", "pcam")]
    targets += [f"results/bench/hest-{p}/DEMO/{RANDOM}.json" for p in ("cls", "cls_mean")]
    targets += [f"results/bench/tp53/tp53/{RANDOM}.json", f"results/bench/unsupervised/crc/{RANDOM}.json"]
    r = snakemake("-n", "-p", *targets, cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    # TP53's own settings go over the shared demo probe overrides (config patch_bench.tp53.overrides).
    assert '"max_steps":2000' in out and "--overrides-name demo_tp53" in out
    for rule, n in (("build_demo_dataset", 6), ("embed", 6), ("linear_probe", 4), ("hest_bench", 2),
                    ("tp53_bench", 1), ("unsupervised_metrics", 1)):
        assert any(line.split()[:2] == [rule, str(n)] for line in out.splitlines()), (rule, out[-2000:])
    assert "fetch_dataset" not in out and "fetch_weights" not in out


def test_paper_dry_run_fetches_weights_and_datasets(workdir):
    r = snakemake("-n", "-p", "--configfile", "config/paper.yaml", "--",
                  "results/bench/hest-cls_mean/IDC/h0-mini.json", "results/bench/linear_probe-eva/bach/uni.json",
                  cwd=workdir)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    assert "fetch_weights.py --model h0-mini --hub-id bioptimus/H0-mini" in out
    assert "fetch_dataset.py --dataset hest --root results/datasets/hest --tasks IDC" in out
    assert "--extra-poolings cls cls+mean" in out
    assert "build_demo_dataset" not in out


def test_model_list_skips_models_without_weights(workdir):
    cfg = yaml.safe_load((workdir / "config/config.yaml").read_text())
    cfg["embed"]["models"] = [RANDOM, "local-vit"]
    # A user model whose weights file is absent and made by no rule.
    registry = yaml.safe_load((workdir / "config/models.yaml").read_text())
    registry["models"]["local-vit"] = {**registry["models"][RANDOM],
                                       "weights": {"source": "path", "path": "nowhere/weights.safetensors"}}
    (workdir / "models.yaml").write_text(yaml.safe_dump(registry))
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    import os

    env_before = os.environ.get("PATHFM_MODELS_YAML")
    os.environ["PATHFM_MODELS_YAML"] = str(workdir / "models.yaml")
    try:
        r = snakemake("-n", "-p", "results/bench/unsupervised/crc/demo-vit-s8-random.json", "all", cwd=workdir)
    finally:
        if env_before is None:
            os.environ.pop("PATHFM_MODELS_YAML")
        else:
            os.environ["PATHFM_MODELS_YAML"] = env_before
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "results/embeddings/local-vit/" not in out
    assert f"results/bench/linear_probe-eva/bach/{RANDOM}.json" in out


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
    assert uns["metrics"]["rankme"]["mean"] >= 1.0 and 0 <= uns["metrics"]["odcorr"]["mean"] <= 1
