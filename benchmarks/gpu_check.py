"""The device check for a lent GPU: speed and memory of the paper's GPU jobs, one JSON.

    python benchmarks/gpu_check.py results/bench/gpu_check.json            # on the GPU
    python benchmarks/gpu_check.py out.json --config config/config.yaml \\
        --distill-run demo-h0-mini --train-run demo-vit-s8 --embed-model demo-vit-s8-random \\
        --device cpu --steps 1 --embed-images 64                          # smoke test

Three parts, each with random weights (nothing is downloaded), sized to finish within
about 8 minutes on one H100/H200 with the defaults:

1. ``distill``: one GPU's share of the H0-mini run (``--distill-run``, default
   h0-mini-repro) at its planned micro-batch (``micro_batch_size``): a full step's
   images/s, the share of each part (frozen teacher forward, student forward + backward,
   the rest: heads, losses, optimiser, EMA), FLOPs per step (torch's flop counter),
   achieved TFLOP/s and MFU against the device's dense bf16 peak, and the allocator's
   peak memory beside the memory plan's prediction for one GPU (``pathfm.memplan``).
   With ``--compile`` the student backbone is also timed under ``torch.compile``.
2. ``train``: the same for one kaiko run (``--train-run``, default kaiko-vitl14-repro-p1)
   at its micro-batch.
3. ``embed``: embedding throughput of the largest teacher (``--embed-model``, default
   h-optimus-0, ViT-g/14) through the real extraction pipeline (tile store, DataLoader,
   contract, float16 store) beside a bare forward of the same model and batch
   (``bench_embed.py``).

A part that fails is recorded with its error and the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_distill  # noqa: E402  (sibling benchmark: build, timing, FLOPs, peaks)

from pathfm.io import write_json_atomic  # noqa: E402
from pathfm.memplan import estimate as mp_estimate  # noqa: E402
from pathfm.memplan import training as mp_training  # noqa: E402
from pathfm.models.registry import get_entry, load_registry  # noqa: E402
from pathfm.train.distill_workflow import resolve_runs  # noqa: E402
from pathfm.train.loop import LoopConfig, build_optimizer  # noqa: E402
from pathfm.workflow.config_load import load_config  # noqa: E402
from pathfm.workflow.models import training_runs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GB = 1e9


def reset_peak(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_bytes(device) -> int | None:
    """The allocator's peak since ``reset_peak``; None on CPU (bench_memory_plan.py measures
    CPU peaks with the profiler)."""
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def _planned(est: mp_estimate.Estimate) -> dict:
    return {"planned_gpu_gb": est.gpu_peak / GB, "planned_tensor_gb": est.tensor_peak / GB,
            "planned_peak_phase": est.peak_phase}


def _step_report(name, b, full_step, student_step, frozen, steps, device, precision, peak,
                 est) -> dict:
    flops = bench_distill.step_flops(full_step)
    timers = [bench_distill._Timed(m, device) for m in frozen]
    reset_peak(device)
    t_full = bench_distill.timed(full_step, steps, device)
    measured = peak_bytes(device)
    frozen_s = sum(t.seconds for t in timers) / (steps + 2)
    t_student = bench_distill.timed(student_step, steps, device)
    out = {"run": name, "micro_batch": b, "precision": precision, "step_s": t_full,
           "images_per_s": b / t_full, "share_frozen_forward": frozen_s / t_full,
           "share_student_fwd_bwd": t_student / t_full,
           "share_heads_loss_optim_ema": max(0.0, 1 - (frozen_s + t_student) / t_full),
           "tflop_per_step": flops / 1e12, "achieved_tflops": flops / t_full / 1e12,
           "peak_tflops": peak, "mfu": flops / t_full / 1e12 / peak if peak else None,
           "measured_peak_gb": measured / GB if measured is not None else None, **_planned(est)}
    if measured is not None:
        # The allocator's peak is tensors only: compare with the plan's tensor peak.
        out["measured_over_planned_tensor"] = measured / est.tensor_peak
    return out


def check_distill(config: dict, run: str, steps: int, device, compile_student: bool) -> dict:
    _, configs = resolve_runs(config["distill"]["runs"])
    cfg = configs[run]
    gpus = config["distill"]["runs"][run]["gpu"] or 1
    micro = cfg.get("micro_batch_size") or cfg["global_batch_size"] // gpus
    cfg = {**cfg, "global_batch_size": micro}  # one GPU's micro-batch, one process
    precision = cfg["precision"] if device.type == "cuda" else "fp32"
    task, schedules, frozen, b = bench_distill.build(cfg, device)
    task.to(device)
    opt = build_optimizer(task, LoopConfig(total_steps=1, schedules=schedules))
    batch = bench_distill.random_crops(cfg["crops"], b, device)
    values = {k: s(0) for k, s in schedules.items()}
    full_step, student_step = bench_distill.step_functions(task, batch, values, opt, precision,
                                                           device)
    registry = load_registry(cfg["registry"]) if cfg["registry"] else load_registry()
    est = mp_training.h0mini(cfg, registry, 1, b, cfg["loss"].get("chunk_rows"))
    out = _step_report(run, b, full_step, student_step, frozen, steps, device, precision,
                       bench_distill.peak_tflops(device, precision), est)
    if compile_student:
        compiled = torch.compile(task.student.backbone)
        t_eager = out["share_student_fwd_bwd"] * out["step_s"]
        t_compiled = bench_distill.timed(lambda: student_step(compiled), steps, device)
        out["student_fwd_bwd_compiled_over_eager"] = t_compiled / t_eager
    return out


def check_train(config: dict, run: str, steps: int, device) -> dict:
    from pathfm.train.ddp import DistInfo
    from pathfm.train.ssl import SSLTask, build_schedules, resolve_config

    spec = training_runs(config)[run]
    cfg = resolve_config({**spec["ssl"], "objective": spec["objective"], "model": spec["model"],
                          "registry": config["train"]["registry"]})
    b = cfg.get("micro_batch_size") or cfg["batch_size"]
    precision = cfg["precision"] if device.type == "cuda" else "fp32"
    task = SSLTask(cfg, get_entry(cfg["model"], cfg["registry"]), DistInfo(device=device)).to(device)
    schedules = build_schedules(cfg)
    opt = build_optimizer(task, LoopConfig(total_steps=1, schedules=schedules))
    crops = spec["multicrop"]
    batch = bench_distill.random_crops(crops, b, device)
    values = {k: s(0) for k, s in schedules.items()}
    full_step, student_step = bench_distill.step_functions(task, batch, values, opt, precision,
                                                           device)

    registry = load_registry(cfg["registry"]) if cfg["registry"] else load_registry()
    est = mp_training.ssl(cfg, registry, 1, b, cfg["loss"].get("chunk_rows"), crops)
    # The EMA teacher's forward is the "frozen" part of a self-distillation step.
    return _step_report(run, b, full_step, student_step, [task.teacher], steps, device,
                        precision, bench_distill.peak_tflops(device, precision), est)


def check_embed(model: str, n: int, batch: int, device, workers: int) -> dict:
    import bench_embed

    entry = get_entry(model)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "embed.json"
        bench_embed.main(["--model", model, "--n", str(n), "--tile-px",
                          str(entry.contract.input_size), "--batch-size", str(batch),
                          "--workers", str(workers), "--rounds", "2", "--device", device.type,
                          "--out", str(out)])
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--config", default=str(ROOT / "config" / "paper.yaml"))
    ap.add_argument("--distill-run", default="h0-mini-repro")
    ap.add_argument("--train-run", default="kaiko-vitl14-repro-p1")
    ap.add_argument("--embed-model", default="h-optimus-0")
    ap.add_argument("--embed-images", type=int, default=4096)
    ap.add_argument("--embed-batch", type=int, default=256)
    ap.add_argument("--embed-workers", type=int, default=8, help="DataLoader workers")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the student")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--parts", nargs="+", default=["distill", "train", "embed"],
                    choices=["distill", "train", "embed"])
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    config = load_config(args.config, ROOT)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "config": args.config, "parts": {}}
    for part in args.parts:
        t0 = time.perf_counter()
        try:
            if part == "distill":
                result = check_distill(config, args.distill_run, args.steps, device, args.compile)
            elif part == "train":
                result = check_train(config, args.train_run, args.steps, device)
            else:
                result = check_embed(args.embed_model, args.embed_images, args.embed_batch,
                                     device, args.embed_workers)
        except Exception as exc:  # one part's failure must not cost the others' figures
            result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        result["wall_s"] = time.perf_counter() - t0
        report["parts"][part] = result
        print(json.dumps({part: result}, default=str), flush=True)
        with contextlib.suppress(Exception):
            if device.type == "cuda":
                torch.cuda.empty_cache()
    write_json_atomic(args.out, report)
    return 0 if all("error" not in r for r in report["parts"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
