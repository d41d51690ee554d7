"""GPU memory plan vs measurement: predicted and measured peak memory of real training steps.

    python benchmarks/bench_memory_plan.py results/bench_memory_plan.json
    python benchmarks/bench_memory_plan.py out.json --micro 2 4 --extrapolate-to 64 --chunk-rows 1024
    python benchmarks/bench_memory_plan.py out.json --only-loss  # case (iii) alone, added to out.json
    python benchmarks/bench_memory_plan.py out.json --repredict  # the plan's numbers again, same measurements
    python benchmarks/bench_memory_plan.py --write-arch-table    # regenerate memplan/arch_table.json

Cases, each measured in a fresh process with random weights on this machine's device:

- ``h0-mini-repro`` of config/paper.yaml: H-Optimus-0's ViT-g/14 frozen teacher, the
  ViT-B/14 student, 131,072-prototype DINO / iBOT heads, learned teacher heads, spare EMA,
  2 global 224-px + 8 local 98-px crops per image, the run's precision (bf16 autocast), at
  each ``--micro`` images per forward, with ``--chunk-rows`` (the chunked fused losses;
  0 = unchunked);
- one kaiko run (``--kaiko-run``, default kaiko-vitl14-repro-p1: DINOv2 ViT-L/14, K 65,536);
- the fused iBOT loss alone: ``--loss-rows`` rows (8,192) × 131,072 prototypes, bf16, at
  each ``--loss-chunk-rows`` (4,096, the default of the configs: two chunks; and 512, the
  step cases' chunk): the chunk term at the paper's chunk size, which the step cases, at
  the micro-batches this machine holds, take at a smaller chunk.

A step is measured as the micro-batches after the first of an accumulation step run it:
one warm micro-batch (1 image) and an optimiser step create the gradients and AdamW state,
then the measured micro-batch's forward + backward accumulates into those gradients.
``measured_gb`` = bytes held before it (parameters, gradients, buffers, AdamW state) + the
peak the CPU allocator reached during it (profiler memory events: exact tensor bytes).
``predicted_gb`` is the plan (``pathfm.memplan``) for the same conditions: this device's
precision and attention kernel (CPU flash SDPA saves what CUDA's does), one process (no
DDP buckets), tensor bytes only (no CUDA context, no fragmentation margin). ``rss_peak_gb``
(peak resident set of the process over the micro-batch) is reported beside it.

The paper's per-GPU micro-batch does not fit this machine's RAM (24 GiB) next to a ViT-g,
so with two ``--micro`` sizes the measured peaks are extrapolated linearly in the
micro-batch to ``--extrapolate-to`` images (``extrapolated``), the way the plan scales:
static bytes + per-image bytes; the plan's own prediction at that size, for the CPU's
conditions and for the GPU's (``predicted_gpu_gb``), is written beside it.
``at_paper_chunk`` moves that step to the configs' chunk_rows (4,096) by the fused loss's
measured difference between the two chunk sizes (case iii): the step at the paper's
per-GPU micro-batch and chunk, measured-equivalent, against the plan.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GB = 1e9


def _load_config(config_file: Path) -> dict:
    from pathfm.sources.preflight import load_workflow_config

    return load_workflow_config(config_file)


def _rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_peak() -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / GB
    return None


def _build(kind: str, run: str, config: dict, chunk_rows: int | None):
    """(task, frozen modules outside the task, schedules, crops, resolved cfg, predict fn)."""
    import torch

    from pathfm.memplan import training
    from pathfm.models.registry import get_entry, load_registry
    from pathfm.train.ddp import DistInfo
    from pathfm.train.frozen_encoder import FrozenEncoder

    if kind == "distill":
        from pathfm.train.distill import H0MiniDistillTask, build_schedules
        from pathfm.train.distill_config import run_config_for

        raw = json.loads(json.dumps(config["distill"]["runs"][run]["config"]))
        if chunk_rows is not None:
            raw.setdefault("loss", {})["chunk_rows"] = chunk_rows or None
        cfg = run_config_for(run, raw)
        contract = get_entry(cfg["student"], cfg["registry"]).contract
        entry = get_entry(cfg["teacher"], cfg["registry"])
        state = entry.build().state_dict()
        teacher = FrozenEncoder(entry, state, contract)
        del state
        task = H0MiniDistillTask(cfg, teacher, None, DistInfo(device=torch.device("cpu")))
        registry = load_registry(cfg["registry"])

        def predict(b):
            return training.h0mini(cfg, registry, 1, b, cfg["loss"].get("chunk_rows"))
        return task, [teacher], build_schedules(cfg), cfg["crops"], cfg, predict
    from pathfm.train.ssl import SSLTask, build_schedules, resolve_config

    spec = config["train"]["runs"][run]
    raw = {**spec["ssl"], "objective": spec["objective"], "model": spec["model"]}
    if chunk_rows is not None:
        raw.setdefault("loss", {})["chunk_rows"] = chunk_rows or None
    cfg = resolve_config(json.loads(json.dumps(raw)))
    registry = load_registry(config["train"]["registry"])
    task = SSLTask(cfg, registry[cfg["model"]], DistInfo(device=torch.device("cpu")))

    def predict(b):
        return training.ssl(cfg, registry, 1, b, cfg["loss"].get("chunk_rows"), spec["multicrop"])
    return task, [], build_schedules(cfg), spec["multicrop"], cfg, predict


def loss_child(args) -> dict:
    """The fused iBOT loss alone at the paper's K and chunk_rows: teacher targets made from
    (rows, 256) teacher features, the student's scores from its (rows, 256) features, the
    loss and its backward, in bf16 autocast as in the step."""
    import torch
    import torch.nn.functional as F

    from pathfm.losses.chunked_prototype_ce import ibot_patch_ce, teacher_targets
    from pathfm.losses import iBOTPatchLoss
    from pathfm.memplan.losses import LossTerm, backward_peak, forward_peak
    from pathfm.memplan.measure import live_bytes, peak_allocated

    rows, K, bn, chunk = args.micro, args.loss_k, 256, args.chunk_rows
    torch.manual_seed(0)
    x = torch.randn(rows, bn, requires_grad=True)
    protos = torch.randn(K, bn, requires_grad=True)
    t_feat = torch.randn(rows, bn)
    t_protos = torch.randn(K, bn)
    loss_mod = iBOTPatchLoss(K)

    def step():
        with torch.autocast("cpu", torch.bfloat16):
            with torch.no_grad():
                targets = teacher_targets(loss_mod, F.normalize(t_feat, dim=-1),
                                          F.normalize(t_protos, dim=-1), 0.04, "softmax",
                                          chunk_rows=chunk)
            loss = ibot_patch_ce(F.normalize(x, dim=-1), F.normalize(protos, dim=-1), targets,
                                 0.1, None, chunk)
        loss.backward()

    held = live_bytes([x, protos, t_feat, t_protos])
    _, peak = peak_allocated(step)
    term = LossTerm("ibot", rows, K, 2, chunk, bottleneck=bn)
    # + what the step's plan counts elsewhere: the leaves' fp32 gradients (static
    # gradients) and the student's fp32 normalised features (head activations).
    extra = 4 * (rows + K) * bn + 4 * rows * bn
    predicted = max(term.teacher_targets_peak(), forward_peak([term]), backward_peak([term])) + extra
    return {"case": "fused ibot loss", "kind": "loss", "rows": rows, "K": K, "chunk_rows": chunk,
            "precision": "bf16", "measured_gb": (held + peak) / GB,
            "predicted_gb": (held + predicted) / GB, "ratio": (held + predicted) / (held + peak)}


def child(args) -> dict:
    """One case in this process: warm micro-batch + optimiser step, then the measured one."""
    import torch

    from pathfm.memplan.measure import module_state_bytes, peak_allocated
    from pathfm.train.loop import LoopConfig, _autocast, build_optimizer

    torch.manual_seed(0)
    config = _load_config(Path(args.config))
    task, outside, schedules, crops, cfg, predict = _build(args.kind, args.run, config, args.chunk_rows)
    precision = cfg["precision"]
    opt = build_optimizer(task, LoopConfig(total_steps=1, schedules=schedules))
    values = {k: s(0) for k, s in schedules.items()}
    g, loc, n_local = crops["global_size"], crops["local_size"], crops["n_local"]
    device = torch.device("cpu")

    def micro_batch(b: int):
        batch = {"global": torch.randn(2 * b, 3, g, g)}
        if n_local:
            batch["local"] = torch.randn(n_local * b, 3, loc, loc)
        with _autocast(precision, device):
            out = task(batch, values)
        out["loss"].backward()

    micro_batch(1)
    opt.step()
    held = module_state_bytes(task, *outside, optimizer=opt)
    rss_ok = _rss_reset()
    _, peak = peak_allocated(lambda: micro_batch(args.micro))
    est = predict(args.micro)
    return {"case": args.run, "kind": args.kind, "micro_batch": args.micro, "precision": precision,
            "chunk_rows": (cfg.get("loss") or {}).get("chunk_rows"), "device": "cpu",
            "held_before_gb": held / GB, "measured_gb": (held + peak) / GB,
            "predicted_gb": est.tensor_peak / GB, "ratio": est.tensor_peak / (held + peak),
            "predicted_peak_phase": est.peak_phase, "predicted_breakdown_gb": est.breakdown(),
            "rss_peak_gb": _rss_peak() if rss_ok else None, "torch_threads": torch.get_num_threads()}


def repredict(path: Path) -> dict:
    """The plan's predictions of a written result recomputed with the current code (the
    measurements stay): after a change of the plan, no re-measuring."""
    from pathfm.memplan import training
    from pathfm.models.registry import load_registry
    from pathfm.train.distill_config import workflow_run_configs
    from pathfm.train.ssl import resolve_config

    results = json.loads(path.read_text())
    config = _load_config(Path(results["config"]))
    for case in results["cases"]:
        for r in case["measurements"]:
            if "error" in r or r.get("kind") == "loss":
                continue
            if r["kind"] == "distill":
                cfg = workflow_run_configs(config["distill"]["runs"])[r["case"]]
                est = training.h0mini(cfg, load_registry(cfg["registry"]), 1, r["micro_batch"],
                                      r["chunk_rows"])
            else:
                spec = config["train"]["runs"][r["case"]]
                cfg = resolve_config({**spec["ssl"], "objective": spec["objective"],
                                      "model": spec["model"]})
                est = training.ssl(cfg, load_registry(config["train"]["registry"]), 1,
                                   r["micro_batch"], r["chunk_rows"], spec["multicrop"])
            r.update(predicted_gb=est.tensor_peak / GB, ratio=est.tensor_peak / (r["measured_gb"] * GB),
                     predicted_peak_phase=est.peak_phase, predicted_breakdown_gb=est.breakdown())
        ext = case.get("extrapolated")
        if ext:
            cfg = workflow_run_configs(config["distill"]["runs"])[case["case"]]
            registry, gpus = load_registry(cfg["registry"]), config["distill"]["runs"][case["case"]]["gpu"]
            chunk = next(r["chunk_rows"] for r in case["measurements"] if "error" not in r)
            cpu = training.h0mini(cfg, registry, 1, ext["micro_batch"], chunk).tensor_peak / GB
            gpu = training.h0mini(cfg, registry, gpus, ext["micro_batch"], chunk).gpu_peak / GB
            ext.update(predicted_gb=cpu, ratio=cpu / ext["extrapolated_measured_gb"], predicted_gpu_gb=gpu)
    return results


def at_paper_chunk(results: dict, config: dict) -> dict | None:
    """The step at ``--extrapolate-to`` images with the configs' chunk (the loss case's
    first chunk size): the extrapolated step measured at the step cases' chunk, plus the
    measured difference of the fused loss between the two chunk sizes, against the plan
    for those settings (CPU conditions) and on the run's GPUs."""
    from pathfm.memplan import training
    from pathfm.models.registry import load_registry
    from pathfm.train.distill_config import workflow_run_configs

    cases = {c["case"]: c for c in results["cases"]}
    step, loss = cases.get("h0-mini-repro"), cases.get("fused ibot loss")
    if not step or not step.get("extrapolated") or not loss:
        return None
    step_chunk = next(r["chunk_rows"] for r in step["measurements"] if "error" not in r)
    by_chunk = {r["chunk_rows"]: r["measured_gb"] for r in loss["measurements"] if "error" not in r}
    target = next(iter(by_chunk))
    if step_chunk not in by_chunk or target == step_chunk:
        return None
    b = step["extrapolated"]["micro_batch"]
    measured = step["extrapolated"]["extrapolated_measured_gb"] + by_chunk[target] - by_chunk[step_chunk]
    runs = config["distill"]["runs"]
    cfg = workflow_run_configs(runs)["h0-mini-repro"]
    registry = load_registry(cfg["registry"])
    cpu = training.h0mini(cfg, registry, 1, b, target).tensor_peak / GB
    gpu = training.h0mini(cfg, registry, runs["h0-mini-repro"]["gpu"], b, target).gpu_peak / GB
    return {"micro_batch": b, "chunk_rows": target, "measured_gb": measured, "predicted_gb": cpu,
            "ratio": cpu / measured, "predicted_gpu_gb": gpu}


def _finish(results: dict, out: Path) -> None:
    paper = at_paper_chunk(results, _load_config(Path(results["config"])))
    for case in results["cases"]:
        if case["case"] == "h0-mini-repro":
            case["at_paper_chunk"] = paper
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


def run_case(config: str, kind: str, run: str, micro: int, chunk_rows: int | None) -> dict:
    cmd = [sys.executable, __file__, "--child", "--config", config, "--kind", kind, "--run", run,
           "--micro", str(micro)]
    if chunk_rows is not None:
        cmd += ["--chunk-rows", str(chunk_rows)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ,
                                                                  "PYTHONPATH": str(ROOT / "src")})
    if out.returncode:
        return {"case": run, "micro_batch": micro, "error": out.stderr[-2000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def extrapolate(rows: list[dict], target: int, gpu_predict) -> dict | None:
    ok = [r for r in rows if "error" not in r]
    if len(ok) < 2 or target is None:
        return None
    (b1, m1), (b2, m2) = sorted((r["micro_batch"], r["measured_gb"]) for r in ok)[:2]
    slope = (m2 - m1) / (b2 - b1)
    measured = m1 + slope * (target - b1)
    cpu, gpu = gpu_predict(target)
    return {"micro_batch": target, "from_micro_batches": [b1, b2],
            "measured_per_image_gb": slope, "extrapolated_measured_gb": measured,
            "predicted_gb": cpu, "ratio": cpu / measured, "predicted_gpu_gb": gpu}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", help="JSON file to write")
    ap.add_argument("--config", default=str(ROOT / "config" / "paper.yaml"))
    ap.add_argument("--micro", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--chunk-rows", type=int, default=None,
                    help="loss.chunk_rows of both cases (0: unchunked; default: the config's)")
    ap.add_argument("--extrapolate-to", type=int, default=None,
                    help="micro-batch to extrapolate the h0-mini-repro measurements to")
    ap.add_argument("--kaiko-run", default="kaiko-vitl14-repro-p1")
    ap.add_argument("--kaiko-micro", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--loss-rows", type=int, default=8192,
                    help="rows of the fused-loss case (iii); 0 skips it")
    ap.add_argument("--loss-k", type=int, default=131072, help=argparse.SUPPRESS)
    ap.add_argument("--loss-chunk-rows", type=int, nargs="+", default=[4096, 512])
    ap.add_argument("--only-loss", action="store_true", help="run case (iii) alone, add it to `out`")
    ap.add_argument("--write-arch-table", action="store_true")
    ap.add_argument("--repredict", action="store_true",
                    help="recompute the predictions of the JSON file `out` with the current plan")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--run", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.micro = args.micro[0]
        print(json.dumps(loss_child(args) if args.kind == "loss" else child(args)))
        return 0
    if args.write_arch_table:
        from pathfm.memplan.arch import TABLE, table_rows
        from pathfm.models.registry import load_registry

        TABLE.write_text(json.dumps(table_rows(load_registry().values()), indent=1) + "\n")
        print(f"wrote {TABLE}")
        return 0
    if not args.out:
        ap.error("give the JSON file to write")
    if args.repredict:
        _finish(repredict(Path(args.out)), Path(args.out))
        return 0
    if args.only_loss:
        results = json.loads(Path(args.out).read_text())
        results["cases"] = [c for c in results["cases"] if c["case"] != "fused ibot loss"]
        results["cases"].append({"case": "fused ibot loss", "measurements": [
            run_case(args.config, "loss", "ibot", args.loss_rows, c) for c in args.loss_chunk_rows]})
        _finish(results, Path(args.out))
        return 0
    config = _load_config(Path(args.config))
    results = {"config": args.config, "cases": []}
    distill = [run_case(args.config, "distill", "h0-mini-repro", b, args.chunk_rows)
               for b in args.micro]

    def h0_predict(b):
        """The plan at b images: this CPU process's conditions, and the job's on its GPUs."""
        from pathfm.memplan import training
        from pathfm.models.registry import load_registry
        from pathfm.train.distill_config import workflow_run_configs

        runs = config["distill"]["runs"]
        cfg = workflow_run_configs(runs)["h0-mini-repro"]
        chunk = cfg["loss"].get("chunk_rows") if args.chunk_rows is None else (args.chunk_rows or None)
        registry = load_registry(cfg["registry"])
        return (training.h0mini(cfg, registry, 1, b, chunk).tensor_peak / GB,
                training.h0mini(cfg, registry, runs["h0-mini-repro"]["gpu"], b, chunk).gpu_peak / GB)

    results["cases"].append({"case": "h0-mini-repro", "measurements": distill,
                             "extrapolated": extrapolate(distill, args.extrapolate_to, h0_predict)})
    kaiko = [run_case(args.config, "train", args.kaiko_run, b, args.chunk_rows) for b in args.kaiko_micro]
    results["cases"].append({"case": args.kaiko_run, "measurements": kaiko})
    if args.loss_rows:
        results["cases"].append({"case": "fused ibot loss", "measurements": [
            run_case(args.config, "loss", "ibot", args.loss_rows, c) for c in args.loss_chunk_rows]})
    _finish(results, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
