"""Checks before a long run: hub access per model, free disk for planned downloads,
GPU visibility, openslide, and that every GPU job of a workflow config fits the GPU
memory per GPU (``pathfm.memplan``). Each check returns pass/fail with the fix, and the
whole set prints as one table, so a user learns everything missing at once.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pathfm.sources.http import token_from_env


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_hub_access(model: str, hub_id: str, filename: str | None = None, endpoint: str | None = None,
                     token_env: str = "HF_TOKEN") -> Check:
    import huggingface_hub

    token = token_from_env(token_env)
    name = f"hub: {model}"
    try:
        if filename:
            url = huggingface_hub.hf_hub_url(hub_id, filename, endpoint=endpoint)
            huggingface_hub.get_hf_file_metadata(url, token=token or False)
        else:
            huggingface_hub.auth_check(hub_id, token=token or False)
    except Exception as err:  # noqa: BLE001 — any failure is a failed check with a fix
        return Check(name, False, f"{hub_id}: {type(err).__name__}",
                     f"set {token_env} (accept the terms at https://huggingface.co/{hub_id}) or set local_path")
    return Check(name, True, f"{hub_id} reachable")


def check_disk(path: str | Path, needed_bytes: int, margin: float = 1.1) -> Check:
    path = Path(path)
    probe = next((p for p in [path, *path.parents] if p.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    ok = free >= needed_bytes * margin
    return Check(f"disk: {path}", ok, f"{free / 1e9:.1f} GB free, {needed_bytes / 1e9:.1f} GB planned",
                 "" if ok else f"free {needed_bytes * margin / 1e9 - free / 1e9:.1f} GB more or move results/")


def check_gpu(required: int = 0) -> Check:
    try:
        import torch
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception as err:  # noqa: BLE001
        return Check("gpu", required == 0, f"torch unusable: {err}", "install the project's torch")
    ok = n >= required
    return Check("gpu", ok, f"{n} CUDA device(s) visible",
                 "" if ok else f"need {required}: check CUDA_VISIBLE_DEVICES / the Slurm gpu request")


def check_openslide() -> Check:
    try:
        import openslide
        version = getattr(openslide, "__library_version__", "?")
    except Exception as err:  # noqa: BLE001
        return Check("openslide", False, f"import failed: {err}", "pip install openslide-python openslide-bin")
    return Check("openslide", True, f"library {version}")


def planned_bytes(manifests: Iterable[str | Path]) -> int:
    """Bytes still to download: manifest sizes of slides whose final file is absent."""
    import pandas as pd

    total = 0
    for m in manifests:
        df = pd.read_csv(m, sep="\t")
        if "size" in df.columns:
            total += int(sum(s for s, p in zip(df["size"].fillna(0), df["path"]) if not Path(p).exists()))
    return total


def format_table(checks: list[Check]) -> str:
    rows = [("check", "status", "detail", "fix")] + [
        (c.name, "pass" if c.ok else "FIX", c.detail, c.fix) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def load_workflow_config(paths: str | Path | list) -> dict:
    """Workflow config files (later ones override, as ``--configfile A B``) as the
    Snakefile sees them: checked against the schema and filled with its defaults. The
    cross-key checks are left to the caller, so a config with a broken table spec still
    shows its memory plan."""
    from pathfm.workflow.config_load import load_config
    from pathfm.workflow.validate import SCHEMAS

    return load_config(paths, SCHEMAS.parent.parent, cross_checks=False)


def check_memory_plan(rows) -> Check:
    """One line for the preflight table: how many GPU jobs of the plan do not fit."""
    bad = [r for r in rows if not r.fits]
    if not rows:
        return Check("gpu memory plan", True, "no GPU jobs")
    if not bad:
        top = max(rows, key=lambda r: r.predicted_gb)
        return Check("gpu memory plan", True, f"{len(rows)} GPU job kinds fit; largest "
                     f"{top.rule} {top.name} {top.predicted_gb:.1f} of {top.available_gb:g} GB")
    names = ", ".join(f"{r.rule} {r.name} ({r.predicted_gb:.0f} GB)" for r in bad)
    return Check("gpu memory plan", False, f"{len(bad)} of {len(rows)} do not fit "
                 f"{bad[0].available_gb:g} GB: {names}", bad[0].suggestion)
