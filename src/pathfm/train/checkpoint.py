"""Atomic training checkpoints with the full resume state.

A checkpoint holds: task (student, teacher, heads, loss centres), optimizer,
grad scaler, step, data-iterator state, and every RNG (python, numpy, torch,
CUDA), so that N steps + resume + N steps equals 2N steps bit for bit.
It is written to a temporary file in the same folder and renamed into place:
an interrupted save never leaves a plausible-looking half file.

Checkpoints hold only tensors and plain containers (dicts, lists, tuples,
numbers, strings) and are loaded with ``weights_only=True``: a file planted in
a checkpoint folder cannot run code when training resumes. ``save_checkpoint``
refuses state that such a load would reject, so every checkpoint it writes can
be resumed from.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from pathfm.io import atomic_path
from pathfm.io.atomic import remove_stale_parts

_NAME = re.compile(r"step_(\d+)\.pt$")
# Temporaries of interrupted saves: ``.step_N.pt.<token>.part`` / ``.lock`` (atomic_path),
# and ``.step_N.pt.XXXXXXXX.tmp`` of the mkstemp-based save before it.
_TEMP = re.compile(r"\.(step_\d+\.pt)\.(?:.+\.(?:part|lock|old)|(?P<legacy>[a-z0-9_]{8}\.tmp))")


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint file that cannot be loaded as plain tensors and containers."""


def capture_rng_state() -> dict:
    """Every RNG's state as tensors, numbers, strings and tuples (loads with weights_only)."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),  # (version, tuple of ints, float | None)
        "numpy": {"kind": str(kind), "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss_next))
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["key"].numpy().astype(np.uint32),
                         int(np_state["pos"]), int(np_state["has_gauss"]),
                         float(np_state["gauss"])))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _unsafe_globals(path: Path) -> list[str]:
    """Python objects other than tensors and plain containers that ``path`` would build."""
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip checkpoint: the load itself says what is wrong
        return []


def atomic_torch_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary file, fsync, check it loads safely, rename into place."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        if unsafe := _unsafe_globals(tmp):
            raise TypeError(
                f"not writing {path}: the state holds {', '.join(unsafe)}, which a safe load "
                f"(weights_only=True) refuses; store tensors, numbers, strings, lists and "
                f"dicts instead")


def checkpoint_path(ckpt_dir: Path, step: int) -> Path:
    return Path(ckpt_dir) / f"step_{step:08d}.pt"


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary files are ignored)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.exists():
        return []
    found = [p for p in ckpt_dir.iterdir() if _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def remove_interrupted_saves(ckpt_dir: Path) -> None:
    """Remove the temporaries that killed saves of any step left in ``ckpt_dir``.

    A live save's temporaries are kept (see ``pathfm.io.atomic``).
    """
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return
    names = set()
    for p in ckpt_dir.iterdir():
        if m := _TEMP.fullmatch(p.name):
            if m["legacy"]:
                p.unlink(missing_ok=True)
            else:
                names.add(m[1])
    for name in names:
        remove_stale_parts(ckpt_dir / name)


def save_checkpoint(ckpt_dir: Path, step: int, state: dict, keep: int = 2) -> Path:
    """Write ``step_{step}.pt`` atomically, then keep only the ``keep`` newest."""
    path = checkpoint_path(ckpt_dir, step)
    remove_interrupted_saves(ckpt_dir)
    atomic_torch_save({**state, "step": step, "rng": capture_rng_state()}, path)
    if keep > 0:
        for old in list_checkpoints(ckpt_dir)[:-keep]:
            old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint as tensors and plain containers only; nothing in the file is run.

    Raises ``UnsafeCheckpointError`` naming the file for anything else: a file
    that asks to build other Python objects (a planted pickle, or a checkpoint of
    a pathfm version that stored numpy objects) or that is not a checkpoint at all.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as e:
        unsafe = _unsafe_globals(path)
        if unsafe:
            what = f"it asks to build Python objects ({', '.join(unsafe)})"
        else:
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            # torch's weights-only refusal names the object on this line; the rest of its
            # message explains how to load the file unsafely, which is not advice to give
            why = next((ln.split(":", 1)[1].strip() for ln in lines
                        if ln.startswith("WeightsUnpickler error:")), None)
            why = why or (lines[0] if lines and "Weights only load failed" not in lines[0]
                          else type(e).__name__)
            if m := re.search(r"GLOBAL (\S+) was not an allowed global", why):
                what = f"it asks to build Python objects ({m[1]})"
            else:
                what = f"it does not load as tensors and plain containers ({why})"
        raise UnsafeCheckpointError(
            f"{path} is not a pathfm checkpoint that can be loaded safely: {what}. Nothing in it "
            f"was run. Delete it (or move it out of {path.parent}) and rerun: training resumes "
            f"from the newest remaining checkpoint, or starts at step 0 if there is none."
        ) from None
