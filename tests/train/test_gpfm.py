"""GPFM unified distillation on tiny models: SSL + expert terms, frozen experts, export."""

import json

import pytest
import torch
from distill_helpers import gpfm_config, write_models
from synthetic import SyntheticMultiCrop

from pathfm.models import get_entry, load_model
from pathfm.train.ddp import DistInfo
from pathfm.train.distill_config import resolve_distill_config
from pathfm.train.frozen_encoder import renormalize
from pathfm.train.gpfm import GPFMTask, build_experts, run
from pathfm.train.ssl import build_schedules


def _task(registry, **kw):
    cfg = resolve_distill_config({"method": "gpfm", **gpfm_config(registry, **kw)})
    return cfg, GPFMTask(cfg, build_experts(cfg), DistInfo())


def test_gpfm_trains_all_terms_and_exports(tmp_path):
    registry = write_models(tmp_path)
    experts = {n: load_model(n, registry=registry).state_dict()
               for n in ("tiny-expert-a", "tiny-expert-b")}
    result = run(gpfm_config(registry, steps=30, log_every=10), SyntheticMultiCrop(),
                 tmp_path / "run", resume=False, export_dir=tmp_path / "model")
    log = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl")]
    for key in ("dino", "ibot", "koleo", "expert", "expert_tiny-expert-a_cls",
                "expert_tiny-expert-b_patch"):
        assert key in log[0], key
    assert log[-1]["expert"] < 0.7 * log[0]["expert"]
    assert log[-1]["loss"] < log[0]["loss"]
    model = load_model("tiny-gpfm", weights=result["weights"], registry=registry)
    assert model.embed_dim == 32
    # The experts' files are untouched (they are read, never trained).
    for name, state in experts.items():
        again = load_model(name, registry=registry).state_dict()
        assert all(torch.equal(again[k], v) for k, v in state.items())


def test_experts_frozen_and_weights_applied(tmp_path):
    registry = write_models(tmp_path)
    cfg, task = _task(registry)
    before = {n: {k: v.clone() for k, v in e.state_dict().items()} for n, e in task.experts.items()}
    batch = SyntheticMultiCrop().batch(0, 0)
    out = task(batch, {k: s(0) for k, s in build_schedules(cfg["ssl"]).items()})
    out["loss"].backward()
    expected = (1.0 * out["expert_tiny-expert-a_cls"] + 0.25 * out["expert_tiny-expert-a_patch"]
                + 0.5 * out["expert_tiny-expert-b_cls"] + 0.125 * out["expert_tiny-expert-b_patch"])
    assert out["expert"].item() == pytest.approx(expected.item(), rel=1e-6)
    ssl = out["dino"] + out["ibot"] + 0.1 * out["koleo"]
    assert out["loss"].item() == pytest.approx((ssl + out["expert"]).item(), rel=1e-5)
    for name, enc in task.experts.items():
        assert all(p.grad is None and not p.requires_grad for p in enc.parameters())
        assert all(torch.equal(v, before[name][k]) for k, v in enc.state_dict().items())
        assert not any(k.startswith("experts") for k in task.state_dict())
    for name in task.experts:
        assert task.student.projectors[name][0].weight.grad is not None
    # expert b has patch 4: an 8×8 grid resampled to the student's 4×4.
    assert task.experts["tiny-expert-b"].grid(32, 32) == (8, 8)
    # The EMA teacher carries no projector, and exports plain timm keys.
    assert not any("projectors" in k for k in task.teacher.state_dict())
    assert "cls_token" in task.export_state("teacher")


def test_renormalize_maps_student_inputs_to_expert_inputs(tmp_path):
    registry = write_models(tmp_path)
    student = get_entry("tiny-gpfm", registry).contract
    expert = get_entry("tiny-expert-a", registry).contract
    pixels = torch.rand(2, 3, 4, 4)
    x = student.normalize(pixels)
    torch.testing.assert_close(renormalize(x, student, expert), expert.normalize(pixels))


def test_gpfm_config_checks(tmp_path):
    assert resolve_distill_config({"method": "gpfm", "experts": []})["experts"] == []  # Fig. 8 "off"
    with pytest.raises(ValueError, match="distinct 'model'"):
        resolve_distill_config({"method": "gpfm", "experts": [{"model": "a"}, {"model": "a"}]})
    with pytest.raises(KeyError, match="experts\\[0\\].wieght"):
        resolve_distill_config({"method": "gpfm", "experts": [{"model": "a", "wieght": 1}]})
    with pytest.raises(ValueError, match="dinov2"):
        resolve_distill_config({"method": "gpfm", "ssl": {"objective": "dino"},
                                "experts": [{"model": "a"}]})
