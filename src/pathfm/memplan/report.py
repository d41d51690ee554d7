"""The memory plan of a config: one row per GPU job kind, the check that stops a run whose
jobs do not fit, and the settings that would make them fit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pathfm.memplan.estimate import GB, Estimate
from pathfm.memplan.jobs import GpuJob, gpu_jobs

DEFAULT_GPU_MEMORY_GB = 80.0
# loss.chunk_rows tried for a job that does not fit (those below its own), largest first:
# the fewest passes over the prototypes.
CHUNK_OPTIONS = (8192, 4096, 2048, 1024, 512)


class GpuMemoryError(ValueError):
    """Some GPU job of the config is predicted not to fit the site's GPU memory."""


@dataclass
class MemoryRow:
    """One GPU job kind: ``micro_batch`` is its per-GPU batch (training: images per
    forward; embedding / segmentation: batch; PLISM metrics: query rows per block);
    ``n_jobs`` counts the jobs merged into the row (same rule and numbers)."""

    rule: str
    name: str
    gpus: int
    micro_batch: int
    predicted_gb: float
    available_gb: float
    fits: bool
    suggestion: str = ""
    note: str = ""
    peak_phase: str = ""
    breakdown: dict[str, float] = field(default_factory=dict)
    n_jobs: int = 1
    fix: dict[str, int] = field(default_factory=dict)  # the first suggestion, key -> value


def available_gb(config: Mapping) -> float:
    return float(config.get("gpu_memory_gb") or DEFAULT_GPU_MEMORY_GB)


def _gb(x: float) -> str:
    return f"{x / GB:.1f} GB"


def _divisors_desc(n: int) -> list[int]:
    return [d for d in range(n, 0, -1) if n % d == 0]


def _steps(job: GpuJob, micro: int) -> str:
    k = job.per_rank_batch // micro
    return f"{k} accumulation step{'s' if k > 1 else ''}"


def _largest_fitting(job: GpuJob, limit: int, chunk) -> tuple[int, Estimate] | None:
    micros = _divisors_desc(job.per_rank_batch) if "micro" in job.keys else [job.settings["micro"]]
    for m in micros:
        est = job.estimate(micro=m, chunk=chunk)
        if est.gpu_peak <= limit:
            return m, est
    return None


Option = tuple[dict[str, int], str]  # (config key -> value, how it reads)


def _training_options(job: GpuJob, limit: int) -> list[Option]:
    """Fewest accumulation steps at the configured chunking; and, when chunking more
    allows a larger micro-batch, that combination."""
    options: list[tuple[int, Option]] = []
    found = _largest_fitting(job, limit, job.settings["chunk"]) if "micro" in job.keys else None
    if found:
        m, est = found
        options.append((m, ({job.keys["micro"]: m},
                            f"set {job.keys['micro']}: {m} ({_steps(job, m)}; {_gb(est.gpu_peak)})")))
    if "chunk" in job.keys:
        best = None
        for chunk in CHUNK_OPTIONS:
            if job.settings["chunk"] and chunk >= job.settings["chunk"]:
                continue
            hit = _largest_fitting(job, limit, chunk)
            if hit and (best is None or hit[0] > best[0]):
                best = (hit[0], chunk, hit[1])
        if best and (not options or best[0] > options[0][0]):
            m, chunk, est = best
            fix, text = {job.keys["chunk"]: chunk}, f"set {job.keys['chunk']}: {chunk}"
            if m != job.settings["micro"]:
                fix[job.keys["micro"]] = m
                text += f" and {job.keys['micro']}: {m} ({_steps(job, m)})"
            options.append((m, (fix, f"{text} ({_gb(est.gpu_peak)})")))
    return [o for _, o in options]


def _no_fit_training(job: GpuJob) -> str:
    smallest = job.estimate(micro=1, chunk=min(CHUNK_OPTIONS) if "chunk" in job.keys else
                            job.settings["chunk"])
    missing = [name for name, k in (("micro_batch_size", "micro"), ("loss.chunk_rows", "chunk"))
               if k not in job.keys]
    why = f" (no {', '.join(missing)} setting reaches this job)" if missing else ""
    return (f"does not fit even at 1 image per forward{why}: {_gb(smallest.gpu_peak)} per GPU; "
            f"use GPUs with more memory")


def _halving_options(job: GpuJob, limit: int) -> list[Option]:
    (setting, key), = job.keys.items()
    value = job.settings[setting]
    while value > 1:
        value //= 2
        est = job.estimate(**{setting: value})
        if est.gpu_peak <= limit:
            return [({key: value}, f"set {key}: {value} ({_gb(est.gpu_peak)})")]
    return []


def _row(job: GpuJob, avail: float) -> MemoryRow:
    est = job.estimate()
    limit = int(avail * GB)
    fits = est.gpu_peak <= limit
    suggestion, fix = "", {}
    if not fits:
        options = (_training_options(job, limit) if job.per_rank_batch
                   else _halving_options(job, limit))
        if options:
            suggestion, fix = "; or ".join(text for _, text in options), options[0][0]
        else:
            suggestion = (_no_fit_training(job) if job.per_rank_batch else
                          f"does not fit even with {next(iter(job.keys.values()))}: 1; "
                          f"use GPUs with more memory")
        if job.note:
            suggestion += f" [{job.note}]"
    micro = job.settings.get("micro", job.settings.get("batch", job.settings.get("chunk")))
    return MemoryRow(job.rule, job.name, job.gpus, micro, round(est.gpu_peak / GB, 1), avail, fits,
                     suggestion, job.note, est.peak_phase, est.breakdown(), fix=fix)


def _merge(rows: list[MemoryRow]) -> list[MemoryRow]:
    """Rows that differ only by name (sweep runs, models of one size) become one row."""
    out: dict[tuple, MemoryRow] = {}
    for r in rows:
        key = (r.rule, r.gpus, r.micro_batch, r.predicted_gb, r.fits, r.suggestion, r.note)
        if key in out:
            out[key].n_jobs += 1
        else:
            out[key] = r
    return list(out.values())


def memory_report(config: Mapping, merge: bool = True) -> list[MemoryRow]:
    """Predicted peak memory per GPU of every GPU job kind of a filled config, against
    ``gpu_memory_gb`` (default 80); jobs with ``gpu: 0`` are not GPU jobs and not listed."""
    avail = available_gb(config)
    rows = [_row(job, job.gpu_memory_gb or avail) for job in gpu_jobs(config)]
    return _merge(rows) if merge else rows


def format_report(rows: list[MemoryRow], breakdown: bool = False) -> str:
    """The plan as a table; ``batch/GPU``: images per forward (training: the micro-batch),
    per batch (embedding, segmentation), query rows per block (PLISM metrics)."""
    head = ("rule", "run/model", "GPUs", "batch/GPU", "predicted/GPU", "available", "fits",
            "suggestion / note")
    table = [head]
    for r in rows:
        name = r.name + (f" (+{r.n_jobs - 1} alike)" if r.n_jobs > 1 else "")
        table.append((r.rule, name, str(r.gpus), str(r.micro_batch), f"{r.predicted_gb:.1f} GB",
                      f"{r.available_gb:g} GB", "yes" if r.fits else "NO",
                      r.suggestion or r.note))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if breakdown:
        for r in rows:
            terms = ", ".join(f"{k} {v:.2f}" for k, v in r.breakdown.items())
            lines.append(f"  {r.rule} {r.name} [{r.peak_phase}, GB]: {terms}")
    return "\n".join(lines)


def fitting_settings(rows: list[MemoryRow]) -> dict[str, int]:
    """One setting per key from the rows' first suggestions: where jobs share a key (a
    from-scratch twin and its base run), the smallest value, which fits both, since a
    smaller micro-batch or chunk never needs more memory."""
    out: dict[str, int] = {}
    for r in rows:
        for key, value in r.fix.items():
            out[key] = min(value, out.get(key, value))
    return out


def check_gpu_memory(config: Mapping) -> None:
    """Raise GpuMemoryError naming every GPU job predicted not to fit ``gpu_memory_gb``
    per GPU: rule and run/model, predicted and available GB, settings that would fit."""
    bad = [r for r in memory_report(config, merge=False) if not r.fits]
    if not bad:
        return
    lines = [f"config gpu_memory_gb: {len(bad)} GPU job(s) predicted not to fit the GPU "
             f"memory they are given (pathfm preflight --config shows the plan):"]
    for r in bad:
        lines.append(f"  {r.rule} {r.name}: {r.predicted_gb:.1f} GB per GPU predicted "
                     f"({r.gpus} GPU(s), {r.micro_batch} per forward) > {r.available_gb:g} GB "
                     f"available; {r.suggestion}")
    fix = fitting_settings(bad)
    if fix:
        lines.append("  settings that make these jobs fit: "
                     + "; ".join(f"{k}: {v}" for k, v in fix.items()))
    raise GpuMemoryError("\n".join(lines))
