#!/usr/bin/env bash
# The prepared device check (issue: GPU memory at scale): one command for a lent GPU,
# about 8 minutes on an H100/H200. Writes results/bench/gpu_check.json (and prints it).
#   bash benchmarks/gpu_check.sh [extra gpu_check.py options, e.g. --compile]
set -euo pipefail
cd "$(dirname "$0")/.."
PATHFM_VENV="${PATHFM_VENV:-.venv}" tools/bootstrap.sh >/dev/null
mkdir -p results/bench
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
exec "${PATHFM_VENV:-.venv}/bin/python" benchmarks/gpu_check.py results/bench/gpu_check.json "$@"
