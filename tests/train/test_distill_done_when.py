"""Distillation "done when" checks: sharp learned-head targets, all-token iBOT, resume
after SIGTERM, registry load + embed of the export, from-scratch twins, similarity monitor."""

import json
import math
import os
import signal

import pytest
import torch
from distill_helpers import gpfm_config, h0mini_config, write_models
from safetensors.torch import load_file
from synthetic import SyntheticMultiCrop

from pathfm.embed.extract import embed_batch
from pathfm.models import get_entry, load_model
from pathfm.train import LoopConfig, fit
from pathfm.train.ddp import DistInfo
from pathfm.train.distill import build_schedules, build_task, run
from pathfm.train.distill_config import (from_scratch_config, resolve_distill_config,
                                         workflow_run_configs)
from pathfm.train.distill_monitor import SimilarityMonitor, card_summary, similarity_cosine


def _cfg(registry, **kw):
    return resolve_distill_config({"method": "h0mini", **h0mini_config(registry, **kw)})


@pytest.mark.parametrize("input_norm", ["standardize", "none"])
def test_learned_heads_give_sharp_targets(tmp_path, input_norm):
    """Raw frozen tokens share one direction, the centre learns it and the learned heads'
    targets go uniform (entropy -> ln K); standardised inputs keep them sharp."""
    registry = write_models(tmp_path)
    # Unchunked losses: the spy reads the dense (rows, K) teacher probabilities.
    cfg = _cfg(registry, teacher_heads="learned", steps=40, loss={"chunk_rows": 0},
               learned_heads={"input_norm": input_norm})
    task = build_task(cfg, DistInfo())
    entropies, probs_of = [], task._teacher_probs

    def spy(loss, logits, temp):
        p = probs_of(loss, logits, temp)
        if loss is task.dino_loss:
            entropies.append(float(-(p * p.clamp_min(1e-12).log()).sum(-1).mean()))
        return p

    task._teacher_probs = spy
    fit(task, SyntheticMultiCrop(), tmp_path, LoopConfig(40, build_schedules(cfg), progress=False))
    assert len(entropies) == 40
    late = sum(entropies[-10:]) / 10
    ln_k = math.log(cfg["heads"]["out_dim"])
    if input_norm == "standardize":
        assert late < 0.75 * ln_k, (late, ln_k)
    else:
        assert late > 0.95 * ln_k, (late, ln_k)  # the collapse the setting prevents


def test_every_patch_token_drives_the_ibot_loss(tmp_path):
    registry = write_models(tmp_path, teacher_heads=True)
    cfg = _cfg(registry, teacher_heads="checkpoint", loss={"chunk_rows": 0})  # spied: plain path
    task = build_task(cfg, DistInfo())
    seen = {}
    ibot_forward = task.ibot_loss.forward

    def spy(student_logits, teacher_probs, masks=None):
        seen.update(logits=student_logits, masks=masks)
        return ibot_forward(student_logits, teacher_probs, masks)

    task.ibot_loss.forward = spy
    batch = SyntheticMultiCrop().batch(0, 0)
    out = task(batch, {k: s(0) for k, s in build_schedules(cfg).items()})
    n_img, grid = batch["global"].shape[0], (32 // 8) ** 2
    assert seen["masks"] is None and seen["logits"].shape[:2] == (n_img, grid)
    (grad,) = torch.autograd.grad(out["ibot"], seen["logits"])
    assert (grad.abs().sum(-1) > 0).all()  # every token of every global crop contributes


class _SigtermAt(SyntheticMultiCrop):
    """Sends this process SIGTERM while producing batch ``at`` of epoch 0 (once)."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.fired = at, False

    def batch(self, epoch, index):
        if epoch == 0 and index == self.at and not self.fired:
            self.fired = True
            os.kill(os.getpid(), signal.SIGTERM)
        return super().batch(epoch, index)


@pytest.mark.parametrize("heads", ["checkpoint", "learned"])
def test_resume_after_sigterm_reproduces_the_uninterrupted_run(tmp_path, heads):
    registry = write_models(tmp_path, teacher_heads=heads == "checkpoint")
    cfg = h0mini_config(registry, teacher_heads=heads, steps=10, checkpoint_every=100,
                        log_every=5)
    full = run(cfg, SyntheticMultiCrop(), tmp_path / "full", resume=False,
               export_dir=tmp_path / "full_model")
    with pytest.raises(SystemExit) as stopped:
        run(cfg, _SigtermAt(4), tmp_path / "job", export_dir=tmp_path / "job_model")
    assert stopped.value.code == 75
    assert not (tmp_path / "job_model" / "weights.safetensors").exists()
    resumed = run(cfg, SyntheticMultiCrop(), tmp_path / "job", export_dir=tmp_path / "job_model")
    a, b = load_file(str(full["weights"])), load_file(str(resumed["weights"]))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # The export loads through the registry and embeds with the student's contract.
    entry = get_entry("tiny-student", registry)
    model = load_model(entry, weights=resumed["weights"]).eval()
    images = torch.randint(0, 255, (3, 3, 32, 32), dtype=torch.uint8)
    with torch.inference_mode():
        feats = embed_batch(model, entry.contract, images, (), None)["features"]
    assert feats.shape == (3, 2 * 32) and torch.isfinite(feats).all()  # cls+mean


def test_from_scratch_twin_keeps_data_steps_and_student(tmp_path):
    registry = write_models(tmp_path)
    base = _cfg(registry, student="tiny-student", steps=12, epoch_length=4,
                crops={"global_size": 32, "local_size": 16, "n_local": 2})
    twin = resolve_distill_config(from_scratch_config(base, "tiny-student"))
    ssl = twin["ssl"]
    assert twin["method"] == "gpfm" and twin["experts"] == []
    assert ssl["objective"] == "dinov2" and ssl["model"] == "tiny-student"
    assert ssl["steps"] == 12 and twin["global_batch_size"] == base["global_batch_size"]
    assert twin["crops"] == base["crops"] and ssl["optim"]["warmup_steps"] == 4
    assert twin["monitor"]["reference"] == "tiny-teacher"  # compared with the base's teacher
    with pytest.raises(ValueError, match="scratch_of 'nope'"):
        workflow_run_configs({"x": {"scratch_of": "nope"}})
    with pytest.raises(ValueError, match="both scratch_of and a config"):
        workflow_run_configs({"demo-h0-mini": {"config": {"method": "h0mini"}},
                              "demo-h0-mini-scratch": {"scratch_of": "demo-h0-mini",
                                                       "config": {"steps": 3}}})


def test_gpfm_without_experts_is_dinov2_alone(tmp_path):
    from pathfm.train.gpfm import run as run_gpfm

    registry = write_models(tmp_path)
    result = run_gpfm({**gpfm_config(registry, steps=6, log_every=3), "experts": []},
                      SyntheticMultiCrop(), tmp_path / "run", resume=False,
                      export_dir=tmp_path / "model")
    log = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl")]
    assert log[-1]["expert"] == 0.0 and {"dino", "ibot", "koleo"} <= set(log[-1])
    load_model("tiny-gpfm", weights=result["weights"], registry=registry)


def test_similarity_cosine_compares_structure_not_width():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(16, 8, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert similarity_cosine(a, 3.0 * a @ rotation) == pytest.approx(1.0, abs=1e-5)
    wider = torch.cat([a, a], dim=1)  # another width, same geometry
    assert similarity_cosine(a, wider) == pytest.approx(1.0, abs=1e-5)
    unrelated = torch.randn(16, 8, generator=g)
    assert abs(similarity_cosine(a, unrelated)) < 0.5
    # A shared offset (every CLS token's common direction) does not inflate it.
    assert abs(similarity_cosine(a + 50.0, unrelated + 50.0)) < 0.5
    with pytest.raises(ValueError, match="same n"):
        similarity_cosine(a, a[:5])


def test_monitor_records_and_card_summary(tmp_path):
    class Encoder(torch.nn.Linear):
        def forward(self, x):
            return {"cls": super().forward(x)}

    g = torch.Generator().manual_seed(0)
    monitor = SimilarityMonitor(Encoder(12, 6), "ref", torch.nn.Linear(12, 4),
                                torch.randn(10, 12, generator=g), every=2,
                                log_path=tmp_path / "log.jsonl")
    monitor.start()
    for step in range(1, 5):
        monitor.on_step(step, {})
    monitor.start()  # a resumed run does not write a second step-0 record
    rows = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
    assert [r["step"] for r in rows] == [0, 2, 4]
    summary = card_summary(tmp_path / "log.jsonl")
    assert summary["reference"] == "ref" and summary["first_step"] == 0
    assert summary["last"] == rows[-1]["teacher_student_cos"]


def test_head_agreement_rises_with_distillation(tmp_path):
    registry = write_models(tmp_path, teacher_heads=True)
    cfg = _cfg(registry, teacher_heads="checkpoint", steps=30,
               temperature={"warmup_epochs": 0, "teacher": 0.04})
    task = build_task(cfg, DistInfo())
    images = SyntheticMultiCrop(seed=5).batch(0, 0)["global"]
    before = task.head_agreement(images)
    fit(task, SyntheticMultiCrop(), tmp_path, LoopConfig(30, build_schedules(cfg), progress=False))
    assert task.head_agreement(images) > before + 0.1
