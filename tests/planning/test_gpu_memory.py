"""The GPU memory plan (pathfm.memplan): its coefficients against what PyTorch saves and
allocates on CPU at small sizes, and the plan of the paper / demo configs."""

from __future__ import annotations

import copy
import textwrap

import pytest
import torch
import torch.nn.functional as F

from pathfm.memplan import (GpuMemoryError, check_gpu_memory, fitting_settings, format_report,
                            memory_report)
from pathfm.memplan.arch import HeadDims, ViTDims, measure_dims, vit_dims
from pathfm.memplan.losses import LossTerm, backward_peak, forward_peak
from pathfm.memplan.measure import module_state_bytes, peak_allocated, saved_tensor_bytes
from pathfm.models.heads import DINOHead
from pathfm.models.registry import load_registry
from pathfm.models.vit import Backbone, build_vit
from pathfm.sources.preflight import load_workflow_config

from .conftest import ROOT

SMALL_VITS = {
    "gelu": ("vit_small_patch16_224", {"img_size": 32, "patch_size": 8, "embed_dim": 64,
                                       "depth": 2, "num_heads": 2, "dynamic_img_size": True},
             0.1),
    "swiglu_ls_reg": ("vit_small_patch14_reg4_dinov2", {
        "img_size": 32, "patch_size": 8, "embed_dim": 64, "depth": 2, "num_heads": 4,
        "init_values": 1e-5, "mlp_ratio": 4.0, "mlp_layer": "SwiGLUPacked", "act_layer": "SiLU",
        "dynamic_img_size": True}, 0.0),
}


def _autocast(a: int):
    return torch.autocast("cpu", torch.bfloat16, enabled=a == 2)


@pytest.mark.parametrize("a", [2, 4], ids=["bf16", "fp32"])
@pytest.mark.parametrize("kind", list(SMALL_VITS))
def test_backbone_saved_bytes_per_image_match_autograd(kind, a):
    arch, kwargs, drop_path = SMALL_VITS[kind]
    backbone = Backbone(build_vit(arch, kwargs, drop_path_rate=drop_path)).train()
    dims = measure_dims(arch, kwargs)

    def saved(n, px):
        x = torch.randn(n, 3, px, px)
        with _autocast(a):
            return saved_tensor_bytes(lambda: backbone(x))[1]

    for px in (32, 16):
        per_image = (saved(4, px) - saved(2, px)) / 2
        predicted = dims.tokens(px) * dims.saved_per_token(a) + dims.patches(px) * dims.patch_embed_saved(a)
        if a == 4:  # in fp32 the conv saves the crops themselves
            predicted += 3 * px * px * 4
        assert per_image == pytest.approx(predicted, rel=0.03), (kind, px)


@pytest.mark.parametrize("a", [2, 4], ids=["bf16", "fp32"])
def test_head_saved_bytes_match_autograd(a):
    dims = HeadDims(48, 1024, 64, 32, 3)
    head = DINOHead(48, 1024, 64, 32, 3)
    assert sum(p.numel() for p in head.parameters()) == dims.params

    def saved(rows):
        x = torch.randn(rows, 48, requires_grad=True)
        with _autocast(a):
            return saved_tensor_bytes(lambda: head(x))[1]

    per_row = (saved(64) - saved(32)) / 32
    assert per_row == pytest.approx(dims.saved_per_row(a), rel=0.05)
    params = sum(p.numel() * p.element_size() for p in head.parameters())
    assert saved(32) - 32 * per_row >= dims.prototype_copy(a)
    assert saved(32) - 32 * per_row <= dims.prototype_copy(a) + params


def _loss_peak(kind: str, a: int, rows: int, K: int, chunk: int | None = None) -> int:
    """Measured peak of one prototype loss as a task runs it: teacher targets, student
    scores from a linear head (or, chunked, the fused loss on normalised features), the
    loss in a forward that returns, then its backward."""
    from pathfm.losses import DINOLoss, iBOTPatchLoss
    from pathfm.losses.chunked_prototype_ce import dino_cross_crop_ce, ibot_patch_ce, teacher_targets

    bn, n_crops = 32, 8
    b = rows // n_crops
    x = torch.randn(rows, bn, requires_grad=True)
    protos = torch.randn(K, bn, requires_grad=True)
    t_in = torch.randn(rows if kind == "ibot" else 2 * b, bn)
    loss_mod = iBOTPatchLoss(K) if kind == "ibot" else DINOLoss(K)

    def forward():
        with _autocast(a):
            if chunk:
                w = F.normalize(protos, dim=-1)
                with torch.no_grad():
                    targets = teacher_targets(loss_mod, F.normalize(t_in, dim=-1), w, 0.04,
                                              "softmax", chunk_rows=chunk)
                z = F.normalize(x, dim=-1)
                if kind == "ibot":
                    return ibot_patch_ce(z, w, targets, 0.1, None, chunk)
                return dino_cross_crop_ce(z, w, targets, b, 0.1, chunk)
            with torch.no_grad():
                t_logits = F.linear(t_in, protos)
                probs = loss_mod.softmax_center_teacher(t_logits, 0.04)
            if kind == "ibot":
                s_logits = F.linear(x, protos)
                return loss_mod(s_logits.view(4, rows // 4, K), probs.view(4, rows // 4, K))
            # as the tasks do: global and local crops through the head apart, then joined
            s_glob, s_loc = F.linear(x[:2 * b], protos), F.linear(x[2 * b:], protos)
            s_all = torch.cat([s_glob.view(2, b, K), s_loc.view(-1, b, K)])
            return loss_mod(s_all, probs.view(2, b, K))

    def step():
        forward().backward()

    return peak_allocated(step)[1]


@pytest.mark.parametrize("chunk", [None, 128], ids=["plain", "chunked"])
@pytest.mark.parametrize("a", [2, 4], ids=["bf16", "fp32"])
@pytest.mark.parametrize("kind", ["ibot", "dino"])
def test_prototype_loss_terms_match_measured_peak(kind, a, chunk):
    rows, K = 1024, 4096
    term = LossTerm(kind, rows, K, a, chunk, kind, rows if kind == "ibot" else rows // 4, 32)
    predicted = max(term.teacher_targets_peak(), forward_peak([term]), backward_peak([term]))
    measured = _loss_peak(kind, a, rows, K, chunk)
    assert predicted == pytest.approx(measured, rel=0.2)


def test_chunked_loss_terms_scale_with_chunk_rows():
    full = LossTerm("ibot", 131072, 131072, 2, None)
    chunked = LossTerm("ibot", 131072, 131072, 2, 1024)
    assert full.kept() == 131072 * 131072 * 8 and chunked.kept() < 1e-3 * full.kept()
    assert 2 * chunked.fwd_transient() == LossTerm("ibot", 131072, 131072, 2, 2048).fwd_transient()
    assert forward_peak([chunked]) * 64 < forward_peak([full])
    single = LossTerm("ibot", 100, 8, 2, 1024)  # fewer rows than a chunk: one chunk of all
    assert single.chunked and single.fwd_transient() == LossTerm("ibot", 100, 8, 2, 100).fwd_transient()


def test_arch_table_covers_the_registry_and_matches_meta_builds():
    """Every registry architecture is in the committed table (regenerate it with
    benchmarks/bench_memory_plan.py --write-arch-table), and the table holds what a meta
    build measures (checked for one architecture of each family; the benchmark rebuilds all)."""
    import json

    from pathfm.memplan.arch import TABLE, _key

    registry = load_registry()
    committed = {r["key"]: r["dims"] for r in json.loads(TABLE.read_text())}
    missing = [e.name for e in registry.values() if _key(e.arch, e.kwargs) not in committed]
    assert not missing, (f"{missing} are not in {TABLE.name}: run "
                         f"benchmarks/bench_memory_plan.py --write-arch-table")
    for name in ("h-optimus-0", "h0-mini", "kaiko-vits16", "uni"):
        e = registry[name]
        assert ViTDims(**committed[_key(e.arch, e.kwargs)]) == measure_dims(e.arch, e.kwargs)
    assert vit_dims(registry["h-optimus-0"]) == ViTDims(
        params=1134774272, embed_dim=1536, depth=40, mlp_hidden=8192, heads=24, prefix=5,
        patch=14, layerscale=True)


SMALL_REGISTRY = textwrap.dedent("""
    models:
      mem-teacher:
        builder:
          arch: vit_small_patch14_reg4_dinov2
          kwargs: {img_size: 112, patch_size: 14, embed_dim: 192, depth: 3, num_heads: 3,
                   init_values: 1.0e-5, mlp_ratio: 4.0, mlp_layer: SwiGLUPacked,
                   act_layer: SiLU, dynamic_img_size: true}
        weights: {source: random}
        contract: {input_size: 112, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
                   patch_size: 14, prefix_tokens: 5, pooling: cls, embed_dim: 192}
      mem-student:
        builder:
          arch: vit_small_patch14_reg4_dinov2
          kwargs: {img_size: 112, patch_size: 14, embed_dim: 96, depth: 3, num_heads: 2,
                   init_values: 1.0e-5, mlp_ratio: 4.0, mlp_layer: SwiGLUPacked,
                   act_layer: SiLU, dynamic_img_size: true}
        weights: {source: random}
        contract: {input_size: 112, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
                   patch_size: 14, prefix_tokens: 5, pooling: cls+mean, embed_dim: 96}
""")


def _measure_step(task, outside, schedules, crops, precision, b):
    from pathfm.train.loop import LoopConfig, _autocast as loop_autocast, build_optimizer

    opt = build_optimizer(task, LoopConfig(total_steps=1, schedules=schedules))
    values = {k: s(0) for k, s in schedules.items()}
    g, loc, n_local = crops["global_size"], crops["local_size"], crops["n_local"]

    def micro_batch(n):
        batch = {"global": torch.randn(2 * n, 3, g, g), "local": torch.randn(n_local * n, 3, loc, loc)}
        with loop_autocast(precision, torch.device("cpu")):
            out = task(batch, values)
        out["loss"].backward()

    micro_batch(1)  # an accumulation step's later micro-batches: gradients and AdamW state exist
    opt.step()
    held = module_state_bytes(task, *outside, optimizer=opt)
    return held + peak_allocated(lambda: micro_batch(b))[1]


@pytest.mark.parametrize("precision,chunk", [("bf16", 96), ("fp32", 0)],
                         ids=["bf16-chunked", "fp32-plain"])
def test_small_distillation_step_matches_plan(tmp_path, precision, chunk):
    """A whole H0-mini step (learned teacher heads, EMA, AdamW) at two micro-batch sizes:
    the plan's tensor peak against the allocator's measured peak, within 20 %."""
    from pathfm.memplan import training
    from pathfm.train.ddp import DistInfo
    from pathfm.train.distill import H0MiniDistillTask, build_schedules
    from pathfm.train.distill_config import run_config_for
    from pathfm.train.frozen_encoder import FrozenEncoder

    reg_file = tmp_path / "models.yaml"
    reg_file.write_text(SMALL_REGISTRY)
    registry = load_registry(reg_file)
    cfg = run_config_for("mem-student", {
        "method": "h0mini", "teacher": "mem-teacher", "registry": str(reg_file),
        "precision": precision, "global_batch_size": 8, "steps": 10,
        "heads": {"out_dim": 2048, "hidden_dim": 256, "nlayers": 3, "dino_bottleneck_dim": 64,
                  "ibot_bottleneck_dim": 32},
        "crops": {"global_size": 112, "local_size": 56, "n_local": 2},
        "loss": {"chunk_rows": chunk}})
    torch.manual_seed(0)
    t_entry = registry["mem-teacher"]
    teacher = FrozenEncoder(t_entry, t_entry.build().state_dict(), registry["mem-student"].contract)
    task = H0MiniDistillTask(cfg, teacher, None, DistInfo(device=torch.device("cpu")))
    for b in (2, 4):
        measured = _measure_step(task, [teacher], build_schedules(cfg), cfg["crops"], precision, b)
        predicted = training.h0mini(cfg, registry, 1, b, cfg["loss"]["chunk_rows"]).tensor_peak
        assert predicted == pytest.approx(measured, rel=0.2), b


def test_small_dinov2_step_matches_plan(tmp_path):
    """A DINOv2 step (EMA teacher, masked iBOT, KoLeo; the kaiko ViT-L/14 recipe) at two
    micro-batch sizes, chunked losses, bf16: plan against measured peak, within 20 %."""
    from pathfm.memplan import training
    from pathfm.train.ddp import DistInfo
    from pathfm.train.ssl import SSLTask, build_schedules, resolve_config

    reg_file = tmp_path / "models.yaml"
    reg_file.write_text(SMALL_REGISTRY)
    registry = load_registry(reg_file)
    cfg = resolve_config({"objective": "dinov2", "model": "mem-teacher", "registry": str(reg_file),
                          "precision": "bf16", "drop_path_rate": 0.1,
                          "heads": {"out_dim": 2048, "hidden_dim": 256, "bottleneck_dim": 64},
                          "loss": {"chunk_rows": 64}})
    crops = {"global_size": 112, "local_size": 56, "n_local": 2}
    torch.manual_seed(0)
    task = SSLTask(cfg, registry["mem-teacher"], DistInfo(device=torch.device("cpu")))
    for b in (2, 4):
        measured = _measure_step(task, [], build_schedules(cfg), crops, "bf16", b)
        predicted = training.ssl(cfg, registry, 1, b, 64, crops).tensor_peak
        assert predicted == pytest.approx(measured, rel=0.2), b


# The paper runs whose per-GPU batch needs accumulation on 80 GB cards.
ACCUMULATED = {"distill": ("h0-mini-repro", "gpfm-repro"),
               "train": ("kaiko-vitl14-repro-p1", "kaiko-vitl14-repro")}


def without_accumulation(config: dict) -> dict:
    """The paper config as it was before the memory plan: every micro_batch_size unset."""
    config = copy.deepcopy(config)
    for run in ACCUMULATED["distill"]:
        config["distill"]["runs"][run]["config"].pop("micro_batch_size", None)
    for run in ACCUMULATED["train"]:
        config["train"]["runs"][run]["ssl"].pop("micro_batch_size", None)
    return config


@pytest.fixture(scope="module")
def shipped_paper_config():
    return load_workflow_config(ROOT / "config" / "paper.yaml")


@pytest.fixture(scope="module")
def paper_config(shipped_paper_config):
    return without_accumulation(shipped_paper_config)


def test_the_shipped_paper_config_fits_80gb(shipped_paper_config):
    rows = memory_report(shipped_paper_config, merge=False)
    assert all(r.fits for r in rows), [(r.name, r.predicted_gb) for r in rows if not r.fits]
    h0 = _row(rows, "distill", "h0-mini-repro")
    assert (h0.gpus, h0.micro_batch) == (8, 64)  # 4 accumulation steps keep the batch of 2,048
    check_gpu_memory(shipped_paper_config)


@pytest.mark.parametrize("layout", sorted(p.name for p in (ROOT / "config" / "layouts").glob("*.yaml")))
def test_every_layout_fits_the_gpus_it_names(layout):
    config = load_workflow_config([ROOT / "config" / "paper.yaml",
                                   ROOT / "config" / "layouts" / layout])
    check_gpu_memory(config)
    if layout == "h0mini_paper_128x16.yaml":
        h0 = _row(memory_report(config, merge=False), "distill", "h0-mini-repro")
        assert (h0.gpus, h0.micro_batch, h0.available_gb) == (128, 16, 32.0)


def _row(rows, rule, name):
    return next(r for r in rows if r.rule == rule and r.name == name)


def test_paper_plan_h0mini_does_not_fit_and_says_what_would(paper_config):
    rows = memory_report(paper_config, merge=False)
    h0 = _row(rows, "distill", "h0-mini-repro")
    assert (h0.gpus, h0.micro_batch, h0.available_gb) == (8, 256, 80.0)
    assert not h0.fits and h0.predicted_gb > 100  # 256 images' activations per GPU
    assert "distill.runs.h0-mini-repro.config.micro_batch_size:" in h0.suggestion
    assert {r.rule for r in rows} >= {"distill", "train_ssl", "embed", "plism_bench"}
    with pytest.raises(GpuMemoryError) as err:
        check_gpu_memory(paper_config)
    message = str(err.value)
    assert "distill h0-mini-repro:" in message and f"{h0.predicted_gb:.1f} GB" in message
    assert "> 80 GB available" in message and "settings that make these jobs fit:" in message
    table = format_report(memory_report(paper_config))
    assert "h0-mini-repro" in table and "NO" in table


def test_paper_plan_unchunked_h0mini_is_the_prototype_scores(paper_config):
    """chunk_rows 0: 2 crops × 256 images × 256 tokens × 131,072 iBOT scores per GPU."""
    config = copy.deepcopy(paper_config)
    config["distill"]["runs"]["h0-mini-repro"]["config"]["loss"] = {"chunk_rows": 0}
    h0 = _row(memory_report(config, merge=False), "distill", "h0-mini-repro")
    assert h0.predicted_gb > 2 * 256 * 256 * 131072 * 16 / 1e9
    assert h0.breakdown["prototype losses"] > 200


def _apply(config: dict, key: str, value) -> None:
    *path, last = key.split(".")
    node = config
    i = 0
    while i < len(path):  # run names hold dots / dashes; walk keys that exist
        for j in range(len(path), i, -1):
            name = ".".join(path[i:j])
            if name in node:
                node, i = node[name], j
                break
        else:
            node = node.setdefault(path[i], {})
            i += 1
    node[last] = value


def test_paper_plan_fits_with_the_suggested_settings(paper_config):
    config = copy.deepcopy(paper_config)
    fix = fitting_settings(memory_report(config, merge=False))
    assert fix["distill.runs.h0-mini-repro.config.micro_batch_size"] < 256
    for key, value in fix.items():
        _apply(config, key, value)
    rows = memory_report(config, merge=False)
    assert all(r.fits for r in rows), [(r.name, r.predicted_gb) for r in rows if not r.fits]
    check_gpu_memory(config)


def test_gpu_memory_gb_sets_the_available_memory(paper_config):
    config = copy.deepcopy(paper_config)
    config["gpu_memory_gb"] = 4000
    check_gpu_memory(config)
    config["gpu_memory_gb"] = 1
    assert not any(r.fits for r in memory_report(config, merge=False) if r.rule == "distill")


def test_demo_config_has_no_gpu_jobs(demo_config):
    assert memory_report(demo_config) == []
    check_gpu_memory(demo_config)


def test_preflight_config_mode(capsys, tmp_path, paper_config):
    import yaml

    from pathfm.commands.preflight import main

    assert main(["--config", str(ROOT / "config" / "paper.yaml")]) == 0
    capsys.readouterr()
    raw = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    for run in ACCUMULATED["distill"]:
        raw["distill"]["runs"][run]["config"].pop("micro_batch_size")
    paper = tmp_path / "paper_before.yaml"
    paper.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(paper)]) == 1
    out = capsys.readouterr().out
    assert "h0-mini-repro" in out and "predicted/GPU" in out and "gpu memory plan" in out
    assert main(["--config", str(paper), "--gpu-memory-gb", "4000", "--breakdown"]) == 0
    assert "weights+grads+adamw" in capsys.readouterr().out
