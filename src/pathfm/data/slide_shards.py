"""Per-slide steps grouped into shards: one job runs a step for a run of slides.

A GDC cohort of ~29,000 slides would otherwise put one download, one mask and one
tiling job per slide into the DAG; Snakemake spends a few ms per job building and
printing it, and a Slurm site caps queued jobs. With ``slides_per_job: n`` a cohort's
slides (manifest order) are cut into runs of n and each run is one job, whose only
declared output is a shard marker (JSON listing the per-slide outputs it made).

The per-slide files keep their usual paths (the layout in docs/architecture.md), so scripts that
read them are unchanged. A job that fails part-way resumes slide by slide: each
finished slide is appended to ``<marker>.progress.jsonl`` with a fingerprint of the
step's settings, and a rerun skips slides whose fingerprint matches and whose
outputs still exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pathfm.io.atomic import write_json_atomic

MARKER_SUFFIX = ".shard.json"


def shard_slices(n_slides: int, per_job: int) -> list[range]:
    """Index ranges of the shards of a cohort of ``n_slides`` slides."""
    if per_job < 1:
        raise ValueError(f"slides_per_job must be >= 1, got {per_job}")
    return [range(i, min(i + per_job, n_slides)) for i in range(0, n_slides, per_job)]


def shard_of(ids: list[str], per_job: int, shard: int) -> list[str]:
    slices = shard_slices(len(ids), per_job)
    if not 0 <= shard < len(slices):
        raise IndexError(f"shard {shard} out of range: {len(ids)} slides make {len(slices)} shards")
    return [ids[i] for i in slices[shard]]


def covering_shards(start: int, stop: int, per_job: int) -> range:
    """Shards (of ``per_job`` slides) that hold the slides ``start`` .. ``stop - 1``."""
    if stop <= start:
        return range(0)
    return range(start // per_job, (stop - 1) // per_job + 1)


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _progress_path(marker: Path) -> Path:
    return marker.with_name(marker.name + ".progress.jsonl")


def _done(progress: Path, fp: str) -> dict[str, dict]:
    """Slides already finished with these settings whose outputs are still there."""
    done: dict[str, dict] = {}
    if not progress.is_file():
        return done
    for line in progress.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill: that slide is redone
            continue
        if rec.get("fingerprint") == fp and all(Path(p).exists() for p in rec["outputs"]):
            done[rec["slide_id"]] = rec
    return done


def run_shard(marker: str | Path, slides: list[str], settings: dict[str, Any],
              step: Callable[[str], list[str]], log: Callable[[str], None] = print) -> dict:
    """Run ``step(slide_id) -> output paths`` for each slide not yet done; write the marker.

    The marker lists every slide's outputs and how many were resumed; wall times go to
    the log only, so a rerun writes the same marker.
    """
    marker = Path(marker)
    marker.parent.mkdir(parents=True, exist_ok=True)
    progress = _progress_path(marker)
    fp = fingerprint(settings)
    done = _done(progress, fp)
    records = []
    with progress.open("a") as fh:
        for i, slide_id in enumerate(slides, 1):
            if slide_id in done:
                records.append({**done[slide_id], "resumed": True})
                log(f"[{i}/{len(slides)}] {slide_id}: done earlier, skipped")
                continue
            t0 = time.perf_counter()
            outputs = [str(p) for p in step(slide_id)]
            rec = {"slide_id": slide_id, "fingerprint": fp, "outputs": outputs}
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            records.append({**rec, "resumed": False})
            log(f"[{i}/{len(slides)}] {slide_id}: {time.perf_counter() - t0:.1f} s")
    summary = {"settings": settings, "fingerprint": fp, "n_slides": len(slides),
               "n_resumed": sum(r["resumed"] for r in records), "slides": records}
    write_json_atomic(marker, summary)
    progress.unlink(missing_ok=True)
    return summary


def expand_markers(paths: Iterable[str | Path]) -> list[str]:
    """Replace each shard marker in ``paths`` by its slides' primary outputs (in order).

    A step lists its primary output first: the slide, the mask.json, the tile store.

    Scripts take per-slide files or markers alike, so a sharded cohort never puts
    tens of thousands of paths on one command line.
    """
    out: list[str] = []
    for p in paths:
        if str(p).endswith(MARKER_SUFFIX):
            for rec in json.loads(Path(p).read_text())["slides"]:
                out.append(rec["outputs"][0])
        else:
            out.append(str(p))
    return out
