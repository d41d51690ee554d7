"""The distill rule: demo and paper dry-runs, and one real CLI run on tiny tile stores."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pathfm.wsi.tile_store import write_tile_store

from .conftest import REPO, snakemake

pytestmark = pytest.mark.workflow
sys.path.insert(0, str(REPO / "tests" / "train"))


def test_demo_dry_run_has_distill_jobs_and_scratch_twins(workdir):
    models = ("demo-h0-mini", "demo-gpfm", "demo-h0-mini-scratch", "demo-gpfm-noexperts")
    result = snakemake("-n", "--cores", "1", *(f"results/models/{m}/weights.safetensors"
                                                for m in models), cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "rule distill:" in result.stdout
    for model in models:
        assert f"wildcards: model={model}\n" in result.stdout, model
    assert "pathfm launch --gpus 0 --nodes 1 -- distill --config" in result.stdout and "--tiles-dir results/tiles/demo" in result.stdout
    # The twins train DINOv2 alone (no experts) on the base run's student architecture.
    assert '"experts":[]' in result.stdout and '"model":"demo-h0-mini-scratch"' in result.stdout


def test_paper_dry_run_of_distill_targets(workdir):
    result = snakemake("-n", "--cores", "1", "--configfile", "config/paper.yaml", "--",
                       "results/models/h0-mini-repro/weights.safetensors",
                       "results/models/gpfm-repro/weights.safetensors",
                       "results/models/h0-mini-repro-scratch/weights.safetensors",
                       "results/models/gpfm-repro-noexperts/weights.safetensors", cwd=workdir)
    assert result.returncode == 0, result.stderr + result.stdout


def _tiny_stores(root: Path, n_slides: int = 2, n_tiles: int = 12) -> Path:
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(n_slides)]
    for sid in ids:
        pixels = rng.integers(0, 255, size=(n_tiles, 48, 48, 3), dtype=np.uint8)
        write_tile_store(root / "tiles" / f"{sid}.zarr", np.zeros((n_tiles, 2), np.int64), 0.25,
                         np.ones(n_tiles), {"slide_id": sid, "tile_px": 48, "target_mpp": 0.5},
                         pixel_batches=[pixels], tile_px=48)
    manifest = root / "manifest.tsv"
    pd.DataFrame({"slide_id": ids, "path": [f"{s}.svs" for s in ids],
                  "md5": ["0" * 32] * n_slides}).to_csv(manifest, sep="\t", index=False)
    return manifest


@pytest.mark.parametrize("method", ["h0mini", "gpfm"])
def test_script_distils_from_tile_stores(tmp_path, method):
    """The rule's command on tiny tile stores: a real run, exported weights and card."""
    import subprocess

    from distill_helpers import gpfm_config, h0mini_config, write_models

    registry = write_models(tmp_path / "models")
    manifest = _tiny_stores(tmp_path)
    crops = {"global_size": 32, "local_size": 16, "n_local": 2}
    if method == "h0mini":
        cfg = {"method": "h0mini", **h0mini_config(registry, steps=4, log_every=2), "crops": crops}
    else:
        cfg = {"method": "gpfm", **gpfm_config(registry, steps=4, log_every=2), "crops": crops}
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "distill.py"), "--config", json.dumps(cfg),
         "--manifest", str(manifest), "--tiles-dir", str(tmp_path / "tiles"),
         "--out-dir", str(tmp_path / "train"), "--export-dir", str(tmp_path / "model")],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "model" / "weights.safetensors").exists()
    card = (tmp_path / "model" / "card.yaml").read_text()
    assert "data_manifest_sha256" in card
    log = [json.loads(line) for line in open(tmp_path / "train" / "log.jsonl")]
    steps = [r for r in log if "loss" in r]
    assert steps[-1]["step"] == 4 and np.isfinite(steps[-1]["loss"])
    # Teacher-student similarity on fixed tiles: step 0, then every log step; in the card.
    sims = [r for r in log if "teacher_student_cos" in r]
    assert [r["step"] for r in sims] == [0, 2, 4]
    assert sims[0]["monitor_reference"] == ("tiny-teacher" if method == "h0mini"
                                            else "tiny-expert-a")
    assert "teacher_student_cos" in card
    assert ("teacher_student_head_cos" in sims[0]) == (method == "h0mini")
