"""Check what a run needs before starting it; print one table of pass / fix.

    pathfm preflight --model h-optimus-0=bioptimus/H-optimus-0:pytorch_model.bin \\
        --manifest results/manifests/tcga_h0mini.tsv --disk-path results --gpus 1

With a workflow config, the GPU memory plan instead: every GPU job kind's predicted peak
memory per GPU against the config's gpu_memory_gb (default 80; --gpu-memory-gb overrides),
and for a job that does not fit the settings that would make it fit:

    pathfm preflight --config config/paper.yaml [config/layouts/X.yaml] [--breakdown]

(--model / --manifest / --gpus with --config add those checks.) Exit status 1 when any
check fails or any job does not fit. HF_TOKEN is read from the environment.
"""

from __future__ import annotations

import argparse
import sys

from pathfm.sources.preflight import (
    check_disk,
    check_gpu,
    check_hub_access,
    check_memory_plan,
    check_openslide,
    format_table,
    load_workflow_config,
    planned_bytes,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], help="NAME=HUB_ID[:FILENAME], repeatable")
    ap.add_argument("--endpoint", help="hub endpoint (default HF_ENDPOINT or huggingface.co)")
    ap.add_argument("--manifest", action="append", default=[], help="manifest TSV of planned downloads")
    ap.add_argument("--extra-gb", type=float, default=0.0, help="more planned bytes (datasets, outputs)")
    ap.add_argument("--disk-path", default="results")
    ap.add_argument("--gpus", type=int, default=None, help="GPUs the run needs")
    ap.add_argument("--config", nargs="+", help="workflow config file(s), later ones override as "
                    "with snakemake --configfile A B (e.g. config/paper.yaml "
                    "config/layouts/*.yaml): print the GPU memory plan")
    ap.add_argument("--gpu-memory-gb", type=float, help="GPU memory per GPU (default: the "
                                                        "config's gpu_memory_gb, else 80)")
    ap.add_argument("--breakdown", action="store_true", help="the plan's terms per job")
    args = ap.parse_args(argv)
    checks = []
    plan_ok = True
    if args.config:
        from pathfm.memplan import format_report, memory_report

        config = load_workflow_config(args.config)
        if args.gpu_memory_gb is not None:
            config["gpu_memory_gb"] = args.gpu_memory_gb
        rows = memory_report(config)
        print(f"GPU memory plan of {' + '.join(args.config)} (predicted peak per GPU):")
        print(format_report(rows, breakdown=args.breakdown))
        print()
        plan_ok = all(r.fits for r in rows)
        checks.append(check_memory_plan(rows))
    for spec in args.model:
        name, _, rest = spec.partition("=")
        hub_id, _, filename = rest.partition(":")
        if not name or not hub_id:
            ap.error(f"--model {spec!r}: expected NAME=HUB_ID[:FILENAME]")
        checks.append(check_hub_access(name, hub_id, filename or None, endpoint=args.endpoint))
    if not args.config or args.manifest or args.extra_gb:
        checks.append(check_disk(args.disk_path, planned_bytes(args.manifest) + int(args.extra_gb * 1e9)))
    if not args.config or args.gpus is not None:
        checks.append(check_gpu(args.gpus or 0))
    if not args.config:
        checks.append(check_openslide())
    print(format_table(checks))
    sys.stdout.flush()
    return 0 if plan_ok and all(c.ok for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
