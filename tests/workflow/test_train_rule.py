"""The train_ssl rule through Snakemake on a tiny synthetic cohort: slides → masks → model."""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def tiny_config(workdir) -> str:
    cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    cfg["cohorts"] = {"tiny": {"source": "synthetic", "n_slides": 2, "seed": 7,
                               "synth": {"width_um": 800, "height_um": 600, "n_pieces": 1,
                                         "artefacts": []}}}
    cfg["train"] = {"runs": {"tiny-vit": {
        "model": "demo-vit-s8", "objective": "dino", "cohorts": ["tiny"], "init": "random",
        "gpu": 0, "mem_mb": 2000, "runtime": 10,
        "patching": {"patch_px": 48, "mpps": [1.0, 0.5], "num_workers": 0, "reader": "zarr"},
        "multicrop": {"global_size": 32, "local_size": 16, "n_local": 2},
        "ssl": {"steps": 3, "batch_size": 4, "log_every": 1, "progress": False,
                "heads": {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16}},
    }}}
    cfg["sweeps"] = {"axes": {}}  # the demo's sweeps derive from demo runs replaced above
    # The demo's distillation runs read heads a replaced demo run writes.
    cfg["distill"]["runs"] = {}
    path = workdir / "config" / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return "config/tiny.yaml"


def test_train_rule_builds_a_model_from_slides(workdir):
    config = tiny_config(workdir)
    target = "results/models/tiny-vit/weights.safetensors"
    result = snakemake("--configfile", config, "--cores", "2", target, cwd=workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    card = yaml.safe_load((workdir / "results/models/tiny-vit/card.yaml").read_text())
    assert card["step"] == 3 and card["model"]["name"] == "demo-vit-s8"
    log = [json.loads(line) for line in (workdir / "results/train/tiny-vit/log.jsonl").open()]
    assert [r["step"] for r in log] == [1, 2, 3]
    assert (workdir / "logs/train_ssl/tiny-vit.log").exists()
    # The trained model is part of 'all', and nothing is left to do for it.
    again = snakemake("--configfile", config, "-n", "--cores", "1", target, cwd=workdir)
    assert "Nothing to be done" in again.stdout + again.stderr
