"""Check what a run needs before starting it; print one table of pass / fix.

    pathfm preflight --model h-optimus-0=bioptimus/H-optimus-0:pytorch_model.bin \
        --manifest results/manifests/tcga_h0mini.tsv --disk-path results --gpus 1

Exit status 1 when any check fails. HF_TOKEN is read from the environment.
"""

from __future__ import annotations

import argparse
import sys

from pathfm.sources.preflight import (
    check_disk,
    check_gpu,
    check_hub_access,
    check_openslide,
    format_table,
    planned_bytes,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], help="NAME=HUB_ID[:FILENAME], repeatable")
    ap.add_argument("--endpoint", help="hub endpoint (default HF_ENDPOINT or huggingface.co)")
    ap.add_argument("--manifest", action="append", default=[], help="manifest TSV of planned downloads")
    ap.add_argument("--extra-gb", type=float, default=0.0, help="more planned bytes (datasets, outputs)")
    ap.add_argument("--disk-path", default="results")
    ap.add_argument("--gpus", type=int, default=0, help="GPUs the run needs")
    args = ap.parse_args(argv)
    checks = []
    for spec in args.model:
        name, _, rest = spec.partition("=")
        hub_id, _, filename = rest.partition(":")
        if not name or not hub_id:
            ap.error(f"--model {spec!r}: expected NAME=HUB_ID[:FILENAME]")
        checks.append(check_hub_access(name, hub_id, filename or None, endpoint=args.endpoint))
    checks.append(check_disk(args.disk_path, planned_bytes(args.manifest) + int(args.extra_gb * 1e9)))
    checks.append(check_gpu(args.gpus))
    checks.append(check_openslide())
    print(format_table(checks))
    sys.stdout.flush()
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
