#!/usr/bin/env bash
# Create or reuse the project's virtual environment and install pathfm into it.
# Usage: tools/bootstrap.sh            (venv at .venv, or $PATHFM_VENV)
# Idempotent: a second run with nothing changed only checks the install.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PATHFM_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.pathfm-install-stamp"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "[bootstrap] creating virtual environment $venv"
  "$python" -m venv "$venv"
fi

# Reinstall only when the install inputs changed since the last successful run.
want="$(cat "$root/pyproject.toml" "$root/constraints.txt" "$root/tools/torchvision_cpu_shim.py" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "[bootstrap] $venv is up to date"
else
  echo "[bootstrap] installing pathfm (constraints: constraints.txt)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -c "$root/constraints.txt" -e "$root[workflow,dev]"

  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  cp "$root/tools/torchvision_cpu_shim.py" "$site/_pathfm_torchvision_cpu_shim.py"
  echo "import _pathfm_torchvision_cpu_shim as _s; _s.install()" > "$site/_pathfm_torchvision_cpu_shim.pth"
  echo "$want" > "$stamp"
fi

"$venv/bin/python" - <<'PY'
import timm, torch, torchvision, openslide, zarr, snakemake  # noqa: F401
print(f"[bootstrap] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"timm {timm.__version__}, zarr {zarr.__version__}")
PY
