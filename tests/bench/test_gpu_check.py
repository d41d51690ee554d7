"""The prepared GPU check runs end to end (here on CPU, at the demo's sizes) and reports
every figure it promises, so a lent GPU's few minutes are not lost to a broken script."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gpu_check():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_check
        yield gpu_check
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_gpu_check_reports_speed_shares_and_planned_memory(tmp_path, gpu_check):
    out = tmp_path / "gpu_check.json"
    rc = gpu_check.main([str(out), "--config", str(ROOT / "config" / "config.yaml"),
                         "--distill-run", "demo-h0-mini", "--train-run", "demo-vit-s8",
                         "--embed-model", "demo-vit-s8-random", "--device", "cpu", "--steps", "1",
                         "--embed-images", "32", "--embed-batch", "16", "--embed-workers", "0"])
    report = json.loads(out.read_text())
    assert rc == 0, {k: v.get("error") for k, v in report["parts"].items()}
    for part in ("distill", "train"):
        r = report["parts"][part]
        assert r["images_per_s"] > 0 and r["tflop_per_step"] > 0
        # Shares are present and positive; their sizes are timings (a loaded CPU can even
        # time the student alone slower than the whole step), so nothing is asserted on them.
        assert r["share_frozen_forward"] >= 0 and r["share_student_fwd_bwd"] > 0
        assert r["planned_gpu_gb"] > r["planned_tensor_gb"] > 0
        assert r["measured_peak_gb"] is None  # the allocator's peak is read on CUDA only
    embed = report["parts"]["embed"]
    assert embed["forward_images_per_s"] > 0 and embed["extraction_images_per_s"] > 0
