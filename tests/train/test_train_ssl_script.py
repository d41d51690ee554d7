"""pathfm train-ssl (alias scripts/train_ssl.py): trains, exports, resumes, exits 75 on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from shapely.geometry import Point, mapping

from pathfm.io.hashing import md5_file
from tests.conftest import geometry_slide

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "train_ssl.py"
TINY_SSL = {"batch_size": 4, "log_every": 1, "checkpoint_every": 2, "progress": False,
            "heads": {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16},
            "optim": {"warmup_steps": 1}}
PATCHING = {"patch_px": 48, "mpps": [1.0, 0.5], "num_workers": 0}
CROPS = {"global_size": 32, "local_size": 16, "n_local": 2}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cohort")
    slide = geometry_slide(root / "s0.svs", 0.5)
    mask_dir = root / "masks" / "s0"
    mask_dir.mkdir(parents=True)
    disc = Point(520 / 0.5, 330 / 0.5).buffer(200 / 0.5)
    (mask_dir / "tissue.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(disc), "properties": {}}]}))
    manifest = root / "manifest.tsv"
    pd.DataFrame([{"slide_id": "s0", "path": str(slide), "md5": md5_file(slide)}]).to_csv(
        manifest, sep="\t", index=False)
    return manifest, root / "masks"


def args(cohort, out: Path, ssl: dict, objective="dino", model="demo-vit-s8") -> list[str]:
    return ["--model", model, "--manifests", str(cohort[0]), "--mask-dirs", str(cohort[1]),
            "--mpp-policy", "fallback", "--epochs", "{}",
            "--ssl", json.dumps({**TINY_SSL, "objective": objective, **ssl}),
            "--patching", json.dumps(PATCHING), "--multicrop", json.dumps(CROPS),
            "--out-dir", str(out / "train"), "--export-dir", str(out / "model")]


def load_script():
    from pathfm.commands import train_ssl

    return train_ssl


@pytest.mark.parametrize("objective,model", [("dino", "demo-vit-s8"),
                                             ("dinov2", "demo-h-optimus")])
def test_trains_exports_and_resumes(cohort, tmp_path, objective, model):
    main = load_script().main
    assert main(args(cohort, tmp_path, {"steps": 2}, objective, model)) == 0
    card = yaml.safe_load((tmp_path / "model" / "card.yaml").read_text())
    assert card["model"]["name"] == model and card["step"] == 2
    assert card["config"]["objective"] == objective
    assert card["data_manifest"] == [str(cohort[0])]
    # A longer run on the same folder resumes at step 2 instead of starting over.
    assert main(args(cohort, tmp_path, {"steps": 3}, objective, model)) == 0
    steps = [json.loads(line)["step"] for line in (tmp_path / "train" / "log.jsonl").open()]
    assert steps == [1, 2, 3]


def test_epochs_become_steps(cohort, tmp_path):
    main = load_script().main
    argv = args(cohort, tmp_path, {}) + ["--epochs", json.dumps({"total": 2, "warmup": 1})]
    patching = {**PATCHING, "epoch_patches": 8}  # 2 epochs of 8 patches at batch 4
    argv[argv.index("--patching") + 1] = json.dumps(patching)
    assert main(argv) == 0
    card = yaml.safe_load((tmp_path / "model" / "card.yaml").read_text())
    assert card["step"] == 4 and card["config"]["optim"]["warmup_steps"] == 2


def test_sigterm_exits_75_after_a_checkpoint(cohort, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(SCRIPT),
                             *args(cohort, tmp_path, {"steps": 10_000, "checkpoint_every": 10_000})],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = tmp_path / "train" / "log.jsonl"
    deadline = time.time() + 240
    while not (log.exists() and log.read_text().count("\n") >= 1) and time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 75, out
    checkpoints = list((tmp_path / "train" / "checkpoints").glob("step_*.pt"))
    assert len(checkpoints) == 1  # written on the signal, not by the schedule
    assert not (tmp_path / "model" / "weights.safetensors").exists()
