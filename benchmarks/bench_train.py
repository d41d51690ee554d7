"""Training throughput of the demo model: images/s of a full DINO / DINOv2 step (heads,
losses, optimizer, EMA teacher) beside a bare backbone forward/backward on the same crops.

    python benchmarks/bench_train.py results/bench_train.json

Random crops stand in for data, so this measures the model side only (see
bench_online_patching.py for the data side).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from pathfm.io import write_json_atomic
from pathfm.models.registry import get_entry
from pathfm.train.ssl import SSLTask, build_schedules, resolve_config
from pathfm.train.loop import LoopConfig, build_optimizer


def crops(batch: int, n_local: int, g: int = 64, loc: int = 32) -> dict:
    return {"global": torch.randn(2 * batch, 3, g, g),
            "local": torch.randn(n_local * batch, 3, loc, loc)}


def time_steps(step, n: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file to write")
    parser.add_argument("--model", default="demo-vit-s8")
    parser.add_argument("--objective", default="dino", choices=["dino", "dinov2"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--n-local", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's); 1 on a shared, loaded machine")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = resolve_config({"objective": args.objective, "model": args.model,
                          "batch_size": args.batch_size, "drop_path_rate": 0.0,
                          # the demo config's head size
                          "heads": {"out_dim": 1024, "hidden_dim": 256, "bottleneck_dim": 64}})
    task = SSLTask(cfg, get_entry(args.model))
    opt = build_optimizer(task, LoopConfig(total_steps=1, schedules=build_schedules(cfg)))
    batch = crops(args.batch_size, args.n_local)
    values = {k: s(0) for k, s in build_schedules(cfg).items()}

    def full_step():
        out = task(batch, values)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        task.update_teacher(values["momentum"])

    backbone = task.student.backbone
    bare_opt = torch.optim.AdamW(backbone.parameters())

    def bare_step():  # the same crops through the student backbone alone
        loss = backbone(batch["global"])["cls"].pow(2).mean()
        loss = loss + backbone(batch["local"])["cls"].pow(2).mean()
        bare_opt.zero_grad(set_to_none=True)
        loss.backward()
        bare_opt.step()

    t_full = time_steps(full_step, args.steps)
    t_bare = time_steps(bare_step, args.steps)
    result = {"model": args.model, "objective": args.objective, "batch_size": args.batch_size,
              "crops": {"global": "2 x 64 px", "local": f"{args.n_local} x 32 px"},
              "images_per_s_full_step": args.batch_size / t_full,
              "images_per_s_bare_backbone": args.batch_size / t_bare,
              "heads_losses_ema_overhead": t_full / t_bare - 1.0,
              "torch_threads": torch.get_num_threads(),
              # shared machines: the load these figures were taken under
              "load_avg_1m_5m_15m": list(os.getloadavg())}
    write_json_atomic(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
