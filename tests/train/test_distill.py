"""H0-mini distillation on tiny models: frozen teacher, learning, EMA, export, head variants."""

import json
from pathlib import Path

import pytest
import torch
from distill_helpers import h0mini_config, write_models
from safetensors.torch import load_file, save_file
from synthetic import SyntheticMultiCrop

from pathfm.models import get_entry, load_model
from pathfm.models.heads import DINOHead
from pathfm.train import LoopConfig, fit
from pathfm.train.ddp import DistInfo
from pathfm.train.distill import H0MiniDistillTask, build_schedules, build_task, run
from pathfm.train.distill_config import resolve_distill_config, run_config_for
from pathfm.train.teacher_heads import head_from_state


def _cfg(registry, **kw):
    return resolve_distill_config({"method": "h0mini", **h0mini_config(registry, **kw)})


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in open(path / "log.jsonl")]


@pytest.mark.parametrize("heads", ["checkpoint", "learned"])
def test_teacher_gets_no_gradient_and_stays_bitwise_unchanged(tmp_path, heads):
    registry = write_models(tmp_path, teacher_heads=heads == "checkpoint")
    cfg = _cfg(registry, teacher_heads=heads, steps=4)
    task = build_task(cfg, DistInfo())
    before = {k: v.clone() for k, v in task.teacher.state_dict().items()}
    heads_before = {k: v.clone() for k, v in task.teacher_heads.state_dict().items()}
    fit(task, SyntheticMultiCrop(), tmp_path, LoopConfig(4, build_schedules(cfg),
                                                         progress=False))
    for p in task.teacher.parameters():
        assert p.grad is None and not p.requires_grad
    for k, v in task.teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    # The teacher is not part of the task: never checkpointed, never optimised.
    assert not any(k.startswith("teacher.") for k in task.state_dict())
    optimised = {id(p) for g in task.param_groups() for p in g["params"]}
    assert not optimised & {id(p) for p in task.teacher.parameters()}
    assert all(p.grad is not None for p in task.student.backbone.vit.blocks.parameters())
    moved = any(not torch.equal(v, heads_before[k]) for k, v in task.teacher_heads.state_dict().items())
    assert moved == (heads == "learned")  # learned target heads follow their EMA


@pytest.mark.parametrize("heads", ["checkpoint", "learned"])
def test_distillation_loss_decreases_and_export_loads(tmp_path, heads):
    registry = write_models(tmp_path, teacher_heads=heads == "checkpoint")
    cfg = h0mini_config(registry, teacher_heads=heads, steps=30, log_every=10,
                        temperature={"warmup_epochs": 0, "teacher": 0.04})
    result = run(cfg, SyntheticMultiCrop(), tmp_path / "run", resume=False,
                 export_dir=tmp_path / "model")
    log = _log(tmp_path / "run")
    assert log[-1]["ibot"] < log[0]["ibot"]
    if heads == "checkpoint":
        assert log[-1]["loss"] < log[0]["loss"] - 0.5
    else:
        assert {"head_dino", "head_ibot"} <= set(log[0])
    model = load_model("tiny-student", weights=result["weights"], registry=registry)
    assert model.num_prefix_tokens == 5
    exported = load_file(str(result["weights"]))
    assert all(k in exported for k in model.state_dict())


def test_student_ema_formula(tmp_path):
    registry = write_models(tmp_path)
    task = build_task(_cfg(registry), DistInfo())
    with torch.no_grad():
        for p in task.student.parameters():
            p.add_(torch.randn_like(p))
    old = {k: v.clone() for k, v in task.student_ema.named_parameters()}
    student = dict(task.student.backbone.named_parameters())
    task.update_teacher(0.9)
    for k, v in task.student_ema.named_parameters():
        torch.testing.assert_close(v, 0.9 * old[k] + 0.1 * student[k])
    exported = task.export_state("ema")
    torch.testing.assert_close(exported["cls_token"], task.student_ema.vit.cls_token)


def test_checkpoint_heads_are_loaded_as_given(tmp_path):
    registry = write_models(tmp_path, teacher_heads=True)
    state = load_file(str(tmp_path / "teacher.safetensors"))
    task = build_task(_cfg(registry, teacher_heads="checkpoint"),
                      DistInfo())
    assert task.head_student is None
    torch.testing.assert_close(task.teacher_heads.ibot.prototypes, state["ibot_head.prototypes"])
    torch.testing.assert_close(task.teacher_heads.dino.mlp[0].weight, state["dino_head.mlp.0.weight"])


def test_dinov2_head_layout_and_missing_heads(tmp_path):
    head = DINOHead(8, 16, 12, 6, 3)
    dinov2 = {k: v for k, v in head.state_dict().items() if k != "prototypes"}
    dinov2["last_layer.weight_g"] = torch.ones(16, 1)
    dinov2["last_layer.weight_v"] = head.prototypes.detach() * 3.0  # norm irrelevant (g = 1)
    rebuilt = head_from_state(dinov2)
    x = torch.randn(4, 8)
    torch.testing.assert_close(rebuilt(x), head(x))
    registry = write_models(tmp_path, teacher_heads=False)
    with pytest.raises(KeyError, match="teacher_heads: learned"):
        build_task(_cfg(registry, teacher_heads="checkpoint"),
                   DistInfo())
    heads_file = tmp_path / "heads.safetensors"
    h = DINOHead(48, 64, 40, 24, 2)
    save_file({f"dino_head.{k}": v.contiguous() for k, v in h.state_dict().items()},
              str(heads_file))
    task = build_task(_cfg(registry, teacher_heads="checkpoint",
                           teacher_heads_path=str(heads_file)),
                      DistInfo())
    assert task.teacher_heads.ibot.prototypes.shape == (64, 24)  # DINO head shared


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(KeyError, match="optim.lrr"):
        resolve_distill_config({"method": "h0mini", "optim": {"lrr": 1}})
    with pytest.raises(ValueError, match="teacher_heads"):
        resolve_distill_config({"method": "h0mini", "teacher_heads": "guess"})
    with pytest.raises(ValueError, match="student's registry name"):
        run_config_for("demo-h0-mini", {"method": "h0mini", "student": "other"})
    assert run_config_for("demo-h0-mini", {"method": "h0mini"})["student"] == "demo-h0-mini"


def test_token_grids_must_match(tmp_path):
    registry = write_models(tmp_path)
    cfg = _cfg(registry, teacher="tiny-expert-b")  # patch 4: a 8×8 grid vs the student's 4×4
    task = build_task(cfg, DistInfo())
    batch = SyntheticMultiCrop().batch(0, 0)
    with pytest.raises(ValueError, match="equal token grids"):
        task(batch, {k: s(0) for k, s in build_schedules(cfg).items()})
    assert isinstance(task, H0MiniDistillTask)
    assert get_entry("tiny-student", registry).contract.patch_size == 8
