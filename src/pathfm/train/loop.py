"""A flat training loop for student/teacher tasks (SSL, distillation).

The loop knows nothing about objectives. A *task* is an ``nn.Module`` with:

- ``forward(batch, values) -> dict``: ``loss`` (scalar to minimise) and each
  named term; ``values`` holds this step's scheduled values (lr, wd, momentum,
  teacher_temp).
- ``param_groups() -> list[dict]``: optimizer groups of trainable params, each
  with ``lr_scale`` and ``wd_scale`` (layer-wise lr decay, no decay on norms).
- ``after_backward(step)``: e.g. freeze the last head layer early on; once per step,
  after the last micro-batch's backward.
- ``update_teacher(momentum)``: EMA step (and deferred centre updates) after the
  optimizer step, once per step.
- ``num_images(batch) -> int``: images in this rank's (micro-)batch (for throughput).

DDP wrappers of the task's trainable modules are kept outside its module tree
(attributes such as ``_student_fwd``); the loop finds them itself for ``no_sync``.

Each step: schedules -> k × [forward (autocast) -> finite-loss check -> backward]
-> ``after_backward`` -> clip -> optimizer -> EMA -> log -> checkpoint -> stop check.

Gradient accumulation (``accumulation_steps`` k, from a run's ``micro_batch_size``):
the data yields micro-batches of ``per-rank batch / k`` images and the loop draws k
of them per optimiser step. Each micro-batch loss is scaled by 1/k, so with equal
micro-batches the accumulated gradient is that of the mean over the whole per-rank
batch; DDP averages gradients across ranks only in the last micro-batch's backward
(``no_sync`` on every DistributedDataParallel wrapper the task holds, see
``pathfm.train.ddp.ddp_wrappers``). Clipping, the optimizer, ``after_backward`` and
``update_teacher`` run once per step; logged terms are means over the micro-batches
and ``images_per_s`` counts every micro-batch. The finite-loss check runs on each
micro-batch before its backward, so a NaN anywhere still updates no weight.

What one step over k micro-batches equals (``accumulation_batch_statistics:
micro_batch``, the only value implemented; a full-batch version would need every
micro-batch's teacher outputs, or student CLS tokens with their graphs, at once):

- the same step over the whole batch, up to float rounding: terms that are means of
  equal-size per-image (or per-token) contributions against targets fixed for the
  step — the DINO CLS loss with softmax/EMA centring (the centre update is deferred
  to ``update_teacher``), H0-mini's iBOT loss on every token, GPFM's expert losses;
- a step whose batch statistics are per micro-batch: Sinkhorn-Knopp targets
  (equipartition over the micro-batch × ranks), KoLeo (nearest neighbours within the
  micro-batch), the masked iBOT loss (mean over the micro-batch's images that have
  masked tokens, micro-batches weighted equally; masks drawn per micro-batch), the
  learned-heads ``FeatureStandardizer`` of ``pathfm.train.distill`` (k running-stat
  updates per step, each from one micro-batch), and the logged
  ``teacher_usage`` / ``teacher_rankme`` diagnostics (means of micro-batch values).
  Random draws (stochastic depth, masks) follow the same distribution but are drawn
  per micro-batch, so with drop-path or masking the draws are not those of k = 1.

Stops and resume:
- A checkpoint every ``checkpoint_every`` steps, written atomically; resume
  restores task, optimizer, grad scaler, data iterator and RNG, so N + N steps
  equal 2N steps bit for bit in deterministic mode.
- SIGTERM / SIGUSR1 (Slurm pre-emption, ``--signal``) save a checkpoint after the
  current step and exit with ``REQUEUE_EXIT_CODE`` (75, EX_TEMPFAIL: "try
  again"); rerunning the same command resumes.
- Checkpoints are written at step boundaries only; the data position counts
  micro-batches, so resume is bit-exact with accumulation too (an epoch of the
  data may end inside a step).
- Only a run with the same settings resumes: each checkpoint records the run's
  config (``extra_state["config"]``, minus logging/checkpoint bookkeeping) beside the
  checkpoints; when a rerun's config differs (Snakemake reruns a rule whose params
  changed), the old checkpoints and log are set aside as ``*.stale`` and training
  starts from step 0, since e.g. a longer run resumed from a shorter one's checkpoint
  follows other schedules than a fresh run.
- A NaN/inf loss raises ``NonFiniteLossError`` before any update, naming the
  step, the terms and the last good checkpoint, which is left untouched.

Data: any iterable of batches. If it has ``state_dict`` / ``load_state_dict``
it resumes itself; otherwise the loop calls ``set_epoch`` (when present) and
skips the batches already consumed in the current epoch.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterable, Mapping

import torch
import torch.nn as nn
from tqdm import tqdm

from pathfm.train import checkpoint as ckpt
from pathfm.train.ddp import DistInfo, any_rank, barrier, ddp_wrappers, no_sync
from pathfm.train.schedules import CosineSchedule

REQUEUE_EXIT_CODE = 75  # sysexits.h EX_TEMPFAIL: interrupted, rerun to resume


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; training stopped before updating anything."""


class RequeueExit(SystemExit):
    """Raised after a stop signal's checkpoint; exits the process with code 75."""

    def __init__(self, checkpoint: Path | None):
        super().__init__(REQUEUE_EXIT_CODE)
        self.checkpoint = checkpoint


@dataclass
class LoopConfig:
    total_steps: int
    schedules: dict[str, CosineSchedule]  # lr, wd, momentum, teacher_temp (any extra key)
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    clip_grad: float | None = 3.0
    precision: str = "fp32"  # fp32 | bf16 | fp16
    adamw_betas: tuple[float, float] = (0.9, 0.999)
    progress: bool = True
    extra_state: dict = field(default_factory=dict)  # written into every checkpoint
    accumulation_steps: int = 1  # micro-batches drawn from the data per optimiser step
    # Images per micro-batch when accumulating: a loader still yielding whole per-rank
    # batches would silently train on k times the configured batch, so it is checked.
    micro_batch_size: int | None = None

    def __post_init__(self):
        k = self.accumulation_steps
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"accumulation_steps must be an integer >= 1, got {k!r}")

    @classmethod
    def from_run(cls, run: Mapping, schedules: dict[str, CosineSchedule], *,
                 extra_state: dict, accumulation_steps: int = 1,
                 micro_batch_size: int | None = None) -> LoopConfig:
        """The loop settings of a resolved run config with ``pathfm.train.ssl``'s keys.

        ``run`` gives ``steps``, ``checkpoint_every``, ``keep_checkpoints``,
        ``log_every``, ``precision``, ``progress``, ``optim.clip_grad`` and
        ``optim.betas``; ``schedules`` and ``extra_state`` (e.g. ``{"config": full
        config}``) are the caller's, and so are ``accumulation_steps`` and
        ``micro_batch_size`` (``accumulation_steps()`` of the run's per-rank batch and
        micro-batch: only the caller knows the world size).
        """
        return cls(
            total_steps=run["steps"], schedules=schedules,
            checkpoint_every=run["checkpoint_every"], keep_checkpoints=run["keep_checkpoints"],
            log_every=run["log_every"], clip_grad=run["optim"]["clip_grad"],
            precision=run["precision"], adamw_betas=tuple(run["optim"]["betas"]),
            progress=run["progress"], extra_state=extra_state,
            accumulation_steps=accumulation_steps,
            micro_batch_size=micro_batch_size if accumulation_steps > 1 else None,
        )


ACCUMULATION_BATCH_STATISTICS = ("micro_batch",)


def check_micro_batch_size(value, key: str = "micro_batch_size") -> None:
    """``value`` is None (no accumulation) or a positive integer; else ValueError naming ``key``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{key} must be a positive integer (images per GPU per forward) or "
                         f"null (the whole per-rank batch), got {value!r}")


def check_accumulation_batch_statistics(value, key: str = "accumulation_batch_statistics"
                                        ) -> None:
    if value not in ACCUMULATION_BATCH_STATISTICS:
        raise ValueError(f"{key} is {value!r}; the only value implemented is 'micro_batch' "
                         f"(batch statistics of Sinkhorn-Knopp, KoLeo, masked iBOT and feature "
                         f"standardisation are taken per micro-batch; see pathfm.train.loop)")


def accumulation_steps(per_rank_batch: int, micro_batch_size: int | None, *,
                       key: str = "micro_batch_size", batch: str = "the per-rank batch",
                       origin: str = "") -> int:
    """Micro-batches per optimiser step, ``per_rank_batch / micro_batch_size`` (None: 1).

    ``micro_batch_size`` must divide ``per_rank_batch`` (equal micro-batches make the
    mean of micro-batch means the batch mean); else a ValueError naming ``key``, the
    batch (``batch`` names it, ``origin`` says where it comes from) and the nearest
    divisors.
    """
    check_micro_batch_size(micro_batch_size, key)
    if micro_batch_size is None:
        return 1
    if per_rank_batch % micro_batch_size:
        divisors = [d for d in range(1, per_rank_batch + 1) if per_rank_batch % d == 0]
        below = [d for d in divisors if d < micro_batch_size][-1:]
        above = [d for d in divisors if d > micro_batch_size][:1]
        raise ValueError(
            f"{key} {micro_batch_size} does not divide {batch} {per_rank_batch}"
            f"{f' ({origin})' if origin else ''}; nearest valid values: "
            f"{', '.join(str(d) for d in below + above)}")
    return per_rank_batch // micro_batch_size


def _autocast(precision: str, device: torch.device):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)


def _to_device(batch, device: torch.device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class _StopFlag:
    """Set by SIGTERM / SIGUSR1; handlers are installed only from the main thread."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGUSR1):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


class _DataStream:
    """Endless iteration over epochs with a resumable position."""

    def __init__(self, data: Iterable):
        self.data = data
        self.epoch = 0
        self.in_epoch = 0
        self._it = None

    def _start_epoch(self, skip: int = 0):
        if hasattr(self.data, "set_epoch"):
            self.data.set_epoch(self.epoch)
        self._it = iter(self.data)
        for _ in range(skip):
            next(self._it)

    def next(self):
        if self._it is None:
            self._start_epoch()
        for _ in range(2):
            try:
                batch = next(self._it)
                self.in_epoch += 1
                return batch
            except StopIteration:
                self.epoch += 1
                self.in_epoch = 0
                self._start_epoch()
        raise RuntimeError("the training data yielded no batch in a whole epoch")

    def state_dict(self) -> dict:
        state = {"epoch": self.epoch, "in_epoch": self.in_epoch}
        if hasattr(self.data, "state_dict"):
            state["data"] = self.data.state_dict()
        return state

    def load_state_dict(self, state: dict):
        self.epoch, self.in_epoch = state["epoch"], state["in_epoch"]
        if "data" in state and hasattr(self.data, "load_state_dict"):
            self.data.load_state_dict(state["data"])
            self._it = iter(self.data)
        else:
            self._start_epoch(skip=self.in_epoch)


RUN_CONFIG = "run_config.json"
# Settings that do not change what a run computes; they may differ on resume.
RESUME_NEUTRAL_KEYS = frozenset({"progress", "log_every", "checkpoint_every", "keep_checkpoints"})


def run_settings(config) -> str:
    """Canonical JSON of a run config without the bookkeeping keys."""
    def strip(v):
        if isinstance(v, dict):
            return {str(k): strip(x) for k, x in v.items() if k not in RESUME_NEUTRAL_KEYS}
        if isinstance(v, (list, tuple)):
            return [strip(x) for x in v]
        return v
    return json.dumps(strip(config), sort_keys=True, default=str)


def set_aside_stale_run(out_dir: Path, config: dict | None, info: DistInfo = DistInfo()) -> bool:
    """Move checkpoints/ and log.jsonl of a run with other settings to ``*.stale``.

    True when something was set aside. Runs without a recorded config (or callers
    without one) are left to resume as before.
    """
    out_dir = Path(out_dir)
    recorded = out_dir / "checkpoints" / RUN_CONFIG
    stale = (config is not None and recorded.exists()
             and recorded.read_text() != run_settings(config))
    if stale and info.is_main:
        for name, aside in (("checkpoints", "checkpoints.stale"), ("log.jsonl", "log.stale.jsonl")):
            src, dst = out_dir / name, out_dir / aside
            if dst.is_dir():
                shutil.rmtree(dst)
            if src.exists():
                src.replace(dst)
        print(f"[loop] {out_dir}: checkpoints were made with other settings; set aside as "
              f"checkpoints.stale, training starts at step 0", flush=True)
    barrier(info)
    return stale


def build_optimizer(task: nn.Module, cfg: LoopConfig) -> torch.optim.Optimizer:
    groups = task.param_groups()
    return torch.optim.AdamW(groups, lr=0.0, betas=cfg.adamw_betas, weight_decay=0.0)


def fit(task: nn.Module, data: Iterable, out_dir: Path, cfg: LoopConfig,
        info: DistInfo = DistInfo(), resume: bool = True,
        on_step: Callable[[int, dict], None] | None = None) -> dict:
    """Train ``task`` for ``cfg.total_steps`` steps; returns a summary dict.

    Writes ``out_dir/checkpoints/step_*.pt`` and ``out_dir/log.jsonl`` (rank 0).
    """
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    device = info.device
    task.to(device)
    optimizer = build_optimizer(task, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    stream = _DataStream(data)
    n_micro = cfg.accumulation_steps
    wrappers = ddp_wrappers(task) if n_micro > 1 else []
    start_step = 0
    last_good: Path | None = None

    run_config = cfg.extra_state.get("config")
    if resume:
        set_aside_stale_run(out_dir, run_config, info)
    if resume and (found := ckpt.latest_checkpoint(ckpt_dir)) is not None:
        state = ckpt.load_checkpoint(found)
        task.load_state_dict(state["task"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        stream.load_state_dict(state["data"])
        # Each rank saved only rank 0's RNG; offset keeps ranks distinct but reproducible.
        ckpt.restore_rng_state(state["rng_per_rank"][info.rank]
                               if info.rank < len(state.get("rng_per_rank", [])) else state["rng"])
        start_step, last_good = state["step"], found

    def save(step: int) -> Path:
        rngs = _gather_rng(info)
        path = ckpt.checkpoint_path(ckpt_dir, step)
        if info.is_main:
            path = ckpt.save_checkpoint(ckpt_dir, step, {
                "task": task.state_dict(), "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(), "data": stream.state_dict(),
                "rng_per_rank": rngs, **cfg.extra_state,
            }, keep=cfg.keep_checkpoints)
            if run_config is not None:
                (ckpt_dir / RUN_CONFIG).write_text(run_settings(run_config))
        barrier(info)
        return path

    log_file = open(out_dir / "log.jsonl", "a") if info.is_main else None
    bar = tqdm(total=cfg.total_steps, initial=start_step, disable=not (cfg.progress and info.is_main),
               desc="train", dynamic_ncols=True, mininterval=1.0)
    sums: dict[str, float] = {}
    n_logged, images, t_log = 0, 0, time.perf_counter()
    step = start_step
    try:
        with _StopFlag() as stop:
            for step in range(start_step, cfg.total_steps):
                values = {k: s(step) for k, s in cfg.schedules.items()}
                for group in optimizer.param_groups:
                    group["lr"] = values.get("lr", 0.0) * group.get("lr_scale", 1.0)
                    group["weight_decay"] = values.get("wd", 0.0) * group.get("wd_scale", 1.0)

                optimizer.zero_grad(set_to_none=True)
                sums_step: dict[str, float] = {}
                counts: dict[str, int] = {}
                for micro in range(n_micro):
                    batch = _to_device(stream.next(), device)
                    n_img = task.num_images(batch)
                    if cfg.micro_batch_size and n_img != cfg.micro_batch_size:
                        raise ValueError(
                            f"the data yielded a batch of {n_img} images, but micro_batch_size "
                            f"is {cfg.micro_batch_size} ({n_micro} micro-batches per step): build "
                            f"the loader with the micro-batch size")
                    # Earlier micro-batches accumulate locally; the last one's backward
                    # averages the summed gradients across ranks.
                    with no_sync(wrappers) if micro < n_micro - 1 else contextlib.nullcontext():
                        with _autocast(cfg.precision, device):
                            out = task(batch, values)
                        loss = out["loss"]
                        terms = {n: float(v.detach()) for n, v in out.items()
                                 if torch.is_tensor(v) and v.ndim == 0}
                        if any_rank(not torch.isfinite(loss.detach()).item(), info):
                            where = f"step {step}" + (f", micro-batch {micro + 1} of {n_micro}"
                                                      if n_micro > 1 else "")
                            raise NonFiniteLossError(
                                f"non-finite loss at {where}: {terms}; nothing was updated. "
                                f"Last good checkpoint: {last_good or 'none yet'}. Lower the "
                                f"lr, raise warmup, or use bf16 instead of fp16, then resume "
                                f"from it."
                            )
                        scaler.scale(loss / n_micro if n_micro > 1 else loss).backward()
                    for n, v in terms.items():
                        sums_step[n] = sums_step.get(n, 0.0) + v
                        counts[n] = counts.get(n, 0) + 1
                    images += n_img * info.world_size
                terms = {n: v / counts[n] for n, v in sums_step.items()}
                task.after_backward(step)
                if cfg.clip_grad:
                    scaler.unscale_(optimizer)
                    params = [p for g in optimizer.param_groups for p in g["params"]]
                    terms["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad))
                scaler.step(optimizer)
                scaler.update()
                task.update_teacher(values.get("momentum", 0.0))

                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v
                n_logged += 1
                done = step + 1
                if done % cfg.log_every == 0 or done == cfg.total_steps:
                    elapsed = time.perf_counter() - t_log
                    record = {"step": done, "epoch": stream.epoch,
                              **{k: v / n_logged for k, v in sums.items()},
                              **values, "images_per_s": images / max(elapsed, 1e-9)}
                    if log_file:
                        log_file.write(json.dumps(record) + "\n")
                        log_file.flush()
                    bar.set_postfix(loss=f"{record['loss']:.4f}",
                                    img_s=f"{record['images_per_s']:.1f}")
                    sums, n_logged, images, t_log = {}, 0, 0, time.perf_counter()
                if on_step:
                    on_step(done, terms)
                bar.update(1)

                if done % cfg.checkpoint_every == 0 or done == cfg.total_steps:
                    last_good = save(done)
                if any_rank(stop.signum is not None, info):
                    if done % cfg.checkpoint_every and done != cfg.total_steps:
                        last_good = save(done)
                    raise RequeueExit(last_good)
    finally:
        bar.close()
        if log_file:
            log_file.close()
    return {"steps": cfg.total_steps, "last_checkpoint": last_good}


def _gather_rng(info: DistInfo) -> list[dict]:
    """Every rank's RNG state, so each rank resumes its own random stream."""
    state = ckpt.capture_rng_state()
    if not info.distributed:
        return [state]
    import torch.distributed as dist

    gathered: list = [None] * info.world_size
    dist.all_gather_object(gathered, state)
    return gathered
