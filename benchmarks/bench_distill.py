"""Distillation step throughput: images/s of a full step and where its time goes.

    python benchmarks/bench_distill.py results/bench_distill.json
    python benchmarks/bench_distill.py out.json --runs demo-h0-mini --device cuda --precision bf16

For each run of ``distill.runs`` in the config (the demo's by default: H0-mini from
demo-h-optimus, GPFM from demo-h-optimus + demo-vit-s8, and their from-scratch twins),
with that run's exact settings (batch, crops, heads) and random weights:

- ``images_per_s``: a full step (frozen teacher / experts, student forward and
  backward, heads, losses, optimizer, EMA), images = global batch;
- ``share_teacher_forward``: time inside the frozen models' forward calls during those
  steps (timed by wrapping them);
- ``share_student_fwd_bwd``: the student backbone's forward + backward on the same
  crops, timed alone;
- ``share_heads_loss_optim_ema``: the rest of the step;
- ``tflop_per_step`` (matmul, convolution and attention FLOPs of one full step, forward
  and backward, counted by torch.utils.flop_counter), ``achieved_tflops`` and, with a
  known peak (``--peak-tflops`` or the CUDA device's dense bf16/fp16 peak), ``mfu``.

Random crops stand in for data (bench_online_patching.py measures the data side).
On a GPU, ``--runs h0-mini-repro --config config/paper.yaml --batch-size 64`` times a
ViT-B/14 student under a ViT-g/14 teacher at 224 px.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from pathfm.io import write_json_atomic
from pathfm.models.heads import DINOHead
from pathfm.models.registry import get_entry
from pathfm.train.distill_config import student_name
from pathfm.train.distill_workflow import resolve_runs
from pathfm.train.frozen_encoder import FrozenEncoder
from pathfm.train.loop import LoopConfig, _autocast, build_optimizer


def frozen(name: str, registry, contract, device) -> FrozenEncoder:
    entry = get_entry(name, registry)
    return FrozenEncoder(entry, entry.build().state_dict(), contract).to(device)


def build(cfg: dict, device: torch.device):
    """(task, schedules values at step 0, frozen encoders, batch size) with random weights."""
    if cfg["method"] == "h0mini":
        from pathfm.train.distill import H0MiniDistillTask, build_schedules

        contract = get_entry(cfg["student"], cfg["registry"]).contract
        teacher = frozen(cfg["teacher"], cfg["registry"], contract, device)
        h, dim = cfg["heads"], teacher.backbone.embed_dim
        heads = None
        if cfg["teacher_heads"] == "checkpoint":
            heads = (DINOHead(dim, h["out_dim"], h["hidden_dim"], h["dino_bottleneck_dim"],
                              h["nlayers"]),
                     DINOHead(dim, h["out_dim"], h["hidden_dim"], h["ibot_bottleneck_dim"],
                              h["nlayers"]))
        from pathfm.train.ddp import DistInfo

        task = H0MiniDistillTask(cfg, teacher, heads, DistInfo(device=device))
        return task, build_schedules(cfg), [teacher], cfg["global_batch_size"]
    from pathfm.train.ddp import DistInfo
    from pathfm.train.gpfm import GPFMTask
    from pathfm.train.ssl import build_schedules

    ssl = cfg["ssl"]
    contract = get_entry(ssl["model"], ssl["registry"]).contract
    experts = {e["model"]: frozen(e["model"], ssl["registry"], contract, device)
               for e in cfg["experts"]}
    batch = cfg["global_batch_size"] or ssl["batch_size"]
    ssl["batch_size"] = batch
    task = GPFMTask(cfg, experts, DistInfo(device=device))
    return task, build_schedules(ssl), list(experts.values()), batch


class _Timed:
    """Wraps a module's forward; accumulates its wall time (synchronising on CUDA)."""

    def __init__(self, module: torch.nn.Module, device: torch.device):
        self.module, self.device, self.seconds = module, device, 0.0
        self.inner = module.forward
        module.forward = self

    def __call__(self, *args, **kwargs):
        sync(self.device)
        t = time.perf_counter()
        out = self.inner(*args, **kwargs)
        sync(self.device)
        self.seconds += time.perf_counter() - t
        return out


# Dense bf16/fp16 tensor-core peaks (TFLOP/s) from the vendors' data sheets, by device name.
PEAK_TFLOPS_16BIT = {"H100 SXM": 989.4, "H100 80GB HBM3": 989.4, "H100 PCIe": 756.0, "H100 NVL": 835.0,
                     "H200": 989.4, "A100": 312.0, "L40S": 362.0}


def peak_tflops(device: torch.device, precision: str) -> float | None:
    if device.type != "cuda" or precision not in ("bf16", "fp16"):
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_TFLOPS_16BIT.items() if k in name), None)


def step_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, n: int, device: torch.device, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    sync(device)
    t = time.perf_counter()
    for _ in range(n):
        fn()
    sync(device)
    return (time.perf_counter() - t) / n


def random_crops(crops: dict, b: int, device: torch.device) -> dict:
    """Random multi-crop batch of ``b`` images with a run's crop sizes (2 global + n_local)."""
    g, loc, n_local = crops["global_size"], crops["local_size"], crops["n_local"]
    batch = {"global": torch.randn(2 * b, 3, g, g, device=device)}
    if n_local:
        batch["local"] = torch.randn(n_local * b, 3, loc, loc, device=device)
    return batch


def step_functions(task, batch: dict, values: dict, opt, precision: str, device: torch.device):
    """(full_step, student_step(net)): a whole training step of ``task``, and the same crops
    through a student backbone alone (forward + backward), for the step's time shares."""
    def full_step():
        with _autocast(precision, device):
            out = task(batch, values)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        task.update_teacher(values["momentum"])

    backbone = task.student.backbone

    def student_step(net=backbone):
        with _autocast(precision, device):
            loss = sum(net(x)["tokens"].float().pow(2).mean() for x in batch.values())
        loss.backward()
        backbone.zero_grad(set_to_none=True)

    return full_step, student_step


def bench_run(name: str, cfg: dict, steps: int, device: torch.device, precision: str,
              batch_override: int | None, peak: float | None = None) -> dict:
    torch.manual_seed(0)
    if batch_override:
        cfg["global_batch_size"] = batch_override
    task, schedules, frozen_models, b = build(cfg, device)
    task.to(device)
    opt = build_optimizer(task, LoopConfig(total_steps=1, schedules=schedules))
    crops = cfg["crops"]
    g, loc, n_local = crops["global_size"], crops["local_size"], crops["n_local"]
    batch = random_crops(crops, b, device)
    values = {k: s(0) for k, s in schedules.items()}
    full_step, student_step = step_functions(task, batch, values, opt, precision, device)

    flops = step_flops(full_step)
    timers = [_Timed(m, device) for m in frozen_models]
    t_full = timed(full_step, steps, device)
    teacher_s = sum(t.seconds for t in timers) / (steps + 2)  # warmup steps were timed too
    t_student = timed(student_step, steps, device)
    return {
        "run": name, "method": cfg["method"], "student": student_name(cfg),
        "frozen": [m.entry.name for m in frozen_models], "batch_size": b,
        "crops": {"global": f"2 x {g} px", "local": f"{n_local} x {loc} px"},
        "precision": precision, "images_per_s": b / t_full, "step_s": t_full,
        "share_teacher_forward": teacher_s / t_full,
        "share_student_fwd_bwd": t_student / t_full,
        "share_heads_loss_optim_ema": max(0.0, 1.0 - (teacher_s + t_student) / t_full),
        "tflop_per_step": flops / 1e12, "achieved_tflops": flops / t_full / 1e12,
        "peak_tflops": peak, "mfu": flops / t_full / 1e12 / peak if peak else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file to write")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--runs", nargs="*", help="runs of distill.runs (default: all)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, help="override the runs' global batch")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default=None,
                        help="default: each run's own setting")
    parser.add_argument("--peak-tflops", type=float,
                        help="device peak for the MFU (default: known CUDA devices at bf16/fp16)")
    args = parser.parse_args(argv)
    runs = yaml.safe_load(Path(args.config).read_text())["distill"]["runs"]
    _, configs = resolve_runs(runs)
    device = torch.device(args.device)
    results = []
    for name in args.runs or list(configs):
        cfg = configs[name]
        precision = args.precision or (cfg["precision"] if cfg["method"] == "h0mini"
                                       else cfg["ssl"]["precision"])
        peak = args.peak_tflops or peak_tflops(device, precision)
        results.append(bench_run(name, cfg, args.steps, device, precision, args.batch_size, peak))
        print(json.dumps(results[-1]), flush=True)
    write_json_atomic(args.out, {"device": str(device), "torch_threads": torch.get_num_threads(),
                                 "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
