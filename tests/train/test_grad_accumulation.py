"""Gradient accumulation: one step over k micro-batches against one over the whole batch.

Equal-size micro-batches, losses scaled by 1/k, one optimiser/EMA step and one
deferred centre update per step (``TeacherCentering.apply_center_update``) make a
step over k micro-batches the step over the whole per-rank batch, up to rounding,
for the DINO objective with EMA centring (no KoLeo) and for H0-mini distillation
with checkpointed teacher heads: in float64 (task, data and losses) to ~1e-15, in
float32 through ``run`` to ~4e-7. Sinkhorn-Knopp targets and KoLeo are statistics of
the micro-batch (``accumulation_batch_statistics: micro_batch``), so DINOv2 steps
differ, by ~8e-4 here. Measured values are in each test (2 steps, CPU, max |Δ| over
every tensor of the task state).
"""

import os
import shutil
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import yaml
from distill_helpers import h0mini_config, write_models
from safetensors.torch import load_file
from synthetic import SyntheticMultiCrop, tiny_config, write_registry

from pathfm.models.registry import get_entry
from pathfm.train import LoopConfig, fit
from pathfm.train import distill, gpfm, ssl
from pathfm.train.checkpoint import latest_checkpoint, load_checkpoint
from pathfm.train.ddp import DistInfo, cleanup, init_distributed, seed_everything
from pathfm.train.distill_config import rank_batches, resolve_distill_config
from pathfm.train.loop import accumulation_steps

K = 4
BATCH = 8
# Exact cases: rounding of sums taken in another order, which AdamW's first steps
# (update ≈ lr·sign(g)) and the EMA pass on without amplifying much.
EXACT_TOL = {torch.float64: 1e-12, torch.float32: 1e-5}


def split_batch(batch: dict, k: int) -> list[dict]:
    """The k equal micro-batches of a crop-major multi-crop batch, images in order."""
    b = batch["global"].shape[0] // 2
    parts: list[dict] = [{} for _ in range(k)]
    for key, x in batch.items():
        crops = x.view(x.shape[0] // b, b, *x.shape[1:])
        for part, chunk in zip(parts, crops.chunk(k, dim=1)):
            part[key] = chunk.reshape(-1, *x.shape[1:])
    return parts


class MicroBatches:
    """``data``'s batches, each cut into k micro-batches: the same images per step."""

    def __init__(self, data, k: int):
        self.data, self.k = data, k

    def set_epoch(self, epoch: int) -> None:
        self.data.set_epoch(epoch)

    def __iter__(self):
        for batch in self.data:
            yield from split_batch(batch, self.k)


def _state(run_dir) -> dict[str, torch.Tensor]:
    return load_checkpoint(latest_checkpoint(run_dir / "checkpoints"))["task"]


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    for key in a:
        if not a[key].is_floating_point():
            assert torch.equal(a[key], b[key]), key
    return max((a[k].double() - b[k].double()).abs().max().item()
               for k in a if a[k].is_floating_point())


def _log(run_dir) -> list[dict]:
    """The loop's records (a monitor may add its own)."""
    records = [yaml.safe_load(line) for line in open(run_dir / "log.jsonl")]
    return [r for r in records if "loss" in r]


def test_split_batch_keeps_crop_major_order():
    batch = SyntheticMultiCrop(batch_size=BATCH).batch(0, 0)
    parts = split_batch(batch, K)
    for key, x in batch.items():
        whole = x.view(-1, BATCH, *x.shape[1:])
        again = torch.cat([p[key].view(-1, BATCH // K, *x.shape[1:]) for p in parts], dim=1)
        assert torch.equal(again, whole)


class Float64:
    """``data`` in float64."""

    def __init__(self, data):
        self.data = data

    def set_epoch(self, epoch: int) -> None:
        self.data.set_epoch(epoch)

    def __iter__(self):
        for batch in self.data:
            yield {k: v.double() for k, v in batch.items()}


def _fit_float64(task, cfg: dict, schedules: dict, k: int, out) -> dict[str, torch.Tensor]:
    """2 steps of ``task`` in float64 over k micro-batches a step; its final state.

    Local crops have the global crops' size: timm resamples the position embedding
    for other sizes in float32 ("interpolate needs float32"), whose rounding would
    differ with the batch size (measured 1e-10 on the weights, 1e-9 on its gradient).
    """
    task.double()
    data = SyntheticMultiCrop(batch_size=BATCH, local_size=32)
    out.mkdir(parents=True)
    loop = LoopConfig.from_run({**cfg, "steps": 2, "checkpoint_every": 2}, schedules,
                               extra_state={}, accumulation_steps=k, micro_batch_size=BATCH // k)
    fit(task, Float64(MicroBatches(data, k)), out, loop, resume=False)
    return {n: v.detach().clone() for n, v in task.state_dict().items()}


def test_float64_dino_and_h0mini_k_micro_batches_equal_the_whole_batch(tmp_path):
    """Measured: max |Δ| 6.9e-16 (DINO), 1.4e-17 (H0-mini) after 2 steps."""
    registry = write_registry(tmp_path)
    cfg = ssl.resolve_config(tiny_config(registry, objective="dino", batch_size=BATCH,
                                         loss={"centering": "ema", "koleo_weight": 0.0}))
    states = []
    for k in (1, K):
        seed_everything(0, 0)
        task = ssl.SSLTask(cfg, get_entry("tiny-vit", registry))
        states.append(_fit_float64(task, cfg, ssl.build_schedules(cfg), k, tmp_path / f"d{k}"))
    assert states[0]["dino_loss.center"].dtype == torch.float64
    dino = _max_diff(*states)

    models = write_models(tmp_path / "models", teacher_heads=True)
    cfg = resolve_distill_config({"method": "h0mini", **h0mini_config(
        models, teacher_heads="checkpoint", global_batch_size=BATCH)})
    states = []
    for k in (1, K):
        seed_everything(0, 0)
        task = distill.build_task(cfg, DistInfo())
        task.teacher.double()  # outside the task's module tree
        states.append(_fit_float64(task, cfg, distill.build_schedules(cfg), k,
                                   tmp_path / f"h{k}"))
    h0 = _max_diff(*states)
    print(f"float64 max |Δ|: dino {dino:.3g}, h0mini {h0:.3g}")
    assert dino < EXACT_TOL[torch.float64] and h0 < EXACT_TOL[torch.float64]


def test_dino_ema_centring_k_micro_batches_equal_the_whole_batch(tmp_path):
    """float32 through ``run`` (micro_batch_size in the config). Measured: max |Δ| 3.9e-7."""
    registry = write_registry(tmp_path)
    cfg = tiny_config(registry, objective="dino", steps=2, batch_size=BATCH, checkpoint_every=2,
                      loss={"centering": "ema", "koleo_weight": 0.0})
    ssl.run(cfg, SyntheticMultiCrop(batch_size=BATCH), tmp_path / "one", resume=False)
    ssl.run({**cfg, "micro_batch_size": BATCH // K},
            MicroBatches(SyntheticMultiCrop(batch_size=BATCH), K), tmp_path / "acc",
            resume=False)
    one, acc = _state(tmp_path / "one"), _state(tmp_path / "acc")
    assert one["dino_loss.center"].abs().max() > 0  # the centre moved and was compared
    diff = _max_diff(one, acc)
    print(f"float32 DINO max |Δ| {diff:.3g}")
    assert diff < EXACT_TOL[torch.float32]
    (l1,), (lk,) = _log(tmp_path / "one"), _log(tmp_path / "acc")
    # Logged terms are means over the micro-batches: the whole-batch means.
    assert lk["loss"] == pytest.approx(l1["loss"], abs=1e-5)
    assert lk["dino"] == pytest.approx(l1["dino"], abs=1e-5)
    assert lk["grad_norm"] == pytest.approx(l1["grad_norm"], rel=1e-4)


def test_h0mini_checkpoint_heads_k_micro_batches_equal_the_whole_batch(tmp_path):
    """float32 through ``run``. Measured: max |Δ| 7.5e-9."""
    registry = write_models(tmp_path, teacher_heads=True)
    cfg = h0mini_config(registry, teacher_heads="checkpoint", steps=2, checkpoint_every=2,
                        global_batch_size=BATCH)
    distill.run(cfg, SyntheticMultiCrop(batch_size=BATCH), tmp_path / "one", resume=False,
                export_dir=tmp_path / "one_model")
    distill.run({**cfg, "micro_batch_size": BATCH // K},
                MicroBatches(SyntheticMultiCrop(batch_size=BATCH), K), tmp_path / "acc",
                resume=False, export_dir=tmp_path / "acc_model")
    one, acc = _state(tmp_path / "one"), _state(tmp_path / "acc")
    assert one["ibot_loss.center"].abs().max() > 0
    diff = _max_diff(one, acc)
    print(f"float32 H0-mini max |Δ| {diff:.3g}")
    assert diff < EXACT_TOL[torch.float32]
    (l1,), (lk,) = _log(tmp_path / "one"), _log(tmp_path / "acc")
    for term in ("loss", "dino", "ibot"):
        assert lk[term] == pytest.approx(l1[term], abs=1e-5), term


def test_dinov2_sinkhorn_and_koleo_are_per_micro_batch(tmp_path):
    """DINOv2 with k = 4 is not the k = 1 step: Sinkhorn-Knopp equipartitions over 2
    images instead of 8 and KoLeo finds neighbours among 2. No image is masked
    (``masking.probability: 0``), so those two are the only batch statistics; the
    masked iBOT mean and the per-micro-batch mask draws would add their own difference.

    Measured (2 steps, float32): the logged DINO term is 5.699 (k = 1) vs 5.854 nats
    (k = 4), KoLeo 5.56 vs 2.56 (the nearest of 1 other image is farther than of 7),
    the task state differs by max |Δ| 8.0e-4, vs 3.9e-7 for DINO with EMA centring.
    """
    registry = write_registry(tmp_path)
    cfg = tiny_config(registry, objective="dinov2", steps=2, batch_size=BATCH,
                      checkpoint_every=2, masking={"probability": 0.0})
    ssl.run(cfg, SyntheticMultiCrop(batch_size=BATCH), tmp_path / "one", resume=False)
    ssl.run({**cfg, "micro_batch_size": BATCH // K},
            MicroBatches(SyntheticMultiCrop(batch_size=BATCH), K), tmp_path / "acc",
            resume=False)
    diff = _max_diff(_state(tmp_path / "one"), _state(tmp_path / "acc"))
    (l1,), (lk,) = _log(tmp_path / "one"), _log(tmp_path / "acc")
    print(f"max |Δ| task state {diff:.3g}; dino {l1['dino']:.4f} vs {lk['dino']:.4f}; "
          f"koleo {l1['koleo']:.4f} vs {lk['koleo']:.4f}")
    assert torch.isfinite(torch.tensor(diff)) and diff > 10 * EXACT_TOL[torch.float32]
    assert lk["dino"] != pytest.approx(l1["dino"], abs=1e-3)
    assert lk["koleo"] != pytest.approx(l1["koleo"], abs=1e-3)


def test_micro_batch_that_does_not_divide_names_the_key(tmp_path):
    registry = write_registry(tmp_path)
    with pytest.raises(ValueError, match=r"micro_batch_size 3 does not divide the per-rank "
                                         r"batch 8 .*nearest valid values: 2, 4"):
        ssl.run(tiny_config(registry, batch_size=8, micro_batch_size=3), [], tmp_path / "ssl")
    with pytest.raises(ValueError, match="micro_batch_size must be a positive integer"):
        ssl.resolve_config(tiny_config(registry, micro_batch_size=0))
    with pytest.raises(ValueError, match="accumulation_batch_statistics"):
        ssl.resolve_config(tiny_config(registry, accumulation_batch_statistics="full_batch"))

    models = write_models(tmp_path / "models")
    h0 = h0mini_config(models, global_batch_size=2048)
    with pytest.raises(ValueError, match=r"micro_batch_size 96 does not divide "
                                         r"global_batch_size 2048.*nearest valid values: 64, 128"):
        resolve_distill_config({"method": "h0mini", **h0, "micro_batch_size": 96})
    cfg = resolve_distill_config({"method": "h0mini", **h0, "micro_batch_size": 512})
    assert rank_batches(cfg, 1) == (2048, 512) and rank_batches(cfg, 4) == (512, 512)
    with pytest.raises(ValueError, match=r"micro_batch_size 512 does not divide the per-rank "
                                         r"batch 256 \(global_batch_size 2048 over 8 rank"
                                         r"\(s\)\); nearest valid values: 256"):
        rank_batches(cfg, 8)

    g = {"method": "gpfm", "ssl": {"model": "tiny-gpfm", "registry": str(models),
                                   "batch_size": 12}, "experts": []}
    assert rank_batches(resolve_distill_config({**g, "micro_batch_size": 4}), 1) == (12, 4)
    with pytest.raises(ValueError, match=r"^micro_batch_size 5 .*per-rank batch 12 "
                                         r"\(ssl.batch_size\); nearest valid values: 4, 6"):
        rank_batches(resolve_distill_config({**g, "micro_batch_size": 5}), 1)
    inner = {**g, "ssl": {**g["ssl"], "micro_batch_size": 5}}
    with pytest.raises(ValueError, match=r"^ssl.micro_batch_size 5"):
        rank_batches(resolve_distill_config(inner), 1)
    with pytest.raises(ValueError, match="set micro_batch_size only"):
        resolve_distill_config({**inner, "micro_batch_size": 4})
    with pytest.raises(ValueError, match=r"per-rank batch 6 \(global_batch_size 12 over 2"):
        gpfm.run({**g, "global_batch_size": 12, "micro_batch_size": 4}, [], tmp_path / "g",
                 info=DistInfo(world_size=2))
    assert accumulation_steps(8, None) == 1 and accumulation_steps(8, 8) == 1


def test_loop_checks_the_loader_yields_micro_batches(tmp_path):
    registry = write_registry(tmp_path)
    cfg = ssl.resolve_config(tiny_config(registry, batch_size=BATCH, micro_batch_size=2))
    task = ssl.SSLTask(cfg, get_entry("tiny-vit", registry))
    loop = LoopConfig.from_run(cfg, ssl.build_schedules(cfg), extra_state={},
                               accumulation_steps=K, micro_batch_size=2)
    with pytest.raises(ValueError, match="yielded a batch of 8 images, but micro_batch_size is 2"):
        fit(task, SyntheticMultiCrop(batch_size=BATCH), tmp_path, loop)
    with pytest.raises(ValueError, match="accumulation_steps"):
        LoopConfig(1, {}, accumulation_steps=0)


def test_resume_with_accumulation_is_bitwise_equal(tmp_path):
    """N + N steps == 2N steps with k = 4; 7 micro-batches an epoch, so epochs end
    inside steps and the resumed data position is a micro-batch count."""
    registry = write_registry(tmp_path)
    cfg = tiny_config(registry, objective="dinov2", steps=6, batch_size=BATCH,
                      micro_batch_size=BATCH // K, checkpoint_every=3, keep_checkpoints=5)

    def data():
        return SyntheticMultiCrop(batch_size=BATCH // K, steps_per_epoch=7)

    ssl.run(cfg, data(), tmp_path / "full", resume=False)
    (tmp_path / "half" / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "full/checkpoints/step_00000003.pt", tmp_path / "half/checkpoints")
    ssl.run(cfg, data(), tmp_path / "half", resume=True)
    assert load_checkpoint(latest_checkpoint(tmp_path / "full/checkpoints"))["data"] == {
        "epoch": 3, "in_epoch": 3}  # 24 micro-batches
    full, half = _state(tmp_path / "full"), _state(tmp_path / "half")
    for key in full:
        assert torch.equal(full[key], half[key]), key
    wf = load_file(str(tmp_path / "full/export/weights.safetensors"))
    wh = load_file(str(tmp_path / "half/export/weights.safetensors"))
    assert all(torch.equal(wf[k], wh[k]) for k in wf)


def test_fp16_grad_scaler_with_accumulation(tmp_path):
    """The scaler skips the first steps (inf gradients at scale 2^16, as without
    accumulation: measured 3 skipped steps with k = 4, 4 with k = 1), backs off once per
    skipped step, then steps; unscale, the inf check and update run once per step."""
    registry = write_registry(tmp_path)
    cfg = tiny_config(registry, objective="dino", steps=8, batch_size=BATCH,
                      micro_batch_size=BATCH // K, checkpoint_every=8, log_every=1,
                      precision="fp16")
    seed_everything(0, 0)  # the initial weights run() builds
    before = ssl.SSLTask(ssl.resolve_config(cfg), get_entry("tiny-vit", registry))
    ssl.run(cfg, SyntheticMultiCrop(batch_size=BATCH // K), tmp_path / "run", resume=False)
    state = load_checkpoint(latest_checkpoint(tmp_path / "run/checkpoints"))
    scaler = state["scaler"]
    skipped = round(torch.log2(torch.tensor(65536.0 / scaler["scale"])).item())
    assert 0 < skipped < 8 and scaler["_growth_tracker"] == 8 - skipped
    log = _log(tmp_path / "run")
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in log)
    assert torch.isfinite(torch.tensor(log[-1]["grad_norm"]))
    moved = [not torch.equal(v, state["task"][k]) for k, v in before.state_dict().items()
             if k.startswith("student.")]
    assert any(moved)


# -- DDP: gradients are all-reduced once per step ------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_config(registry: str, world: int, micro: int | None) -> dict:
    return ssl.resolve_config(tiny_config(registry, steps=3, batch_size=BATCH // world,
                                          micro_batch_size=micro, checkpoint_every=100,
                                          deterministic=False))


def _train(registry: str, out: str, world: int, rank: int, micro: int | None,
           info: DistInfo):
    """``ssl.run``'s steps, with a comm hook counting the backward passes that sync."""
    cfg = _ddp_config(registry, world, micro)
    k, m = ssl.micro_batching(cfg)
    Path(out).mkdir(parents=True, exist_ok=True)
    seed_everything(cfg["seed"], 0)
    task = ssl.SSLTask(cfg, get_entry(cfg["model"], cfg["registry"]), info)
    seed_everything(cfg["seed"], rank)
    synced = []
    if world > 1:
        from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

        def counting_hook(state, bucket):
            if bucket.index() == 0:  # once per backward that all-reduces
                synced.append(1)
            return allreduce_hook(state, bucket)

        task._student_fwd.register_comm_hook(None, counting_hook)
    data = MicroBatches(SyntheticMultiCrop(batch_size=BATCH, rank=rank, world_size=world), k)
    loop = LoopConfig.from_run(cfg, ssl.build_schedules(cfg, world), extra_state={},
                               accumulation_steps=k, micro_batch_size=m)
    fit(task, data, out, loop, info, resume=False)
    return task, len(synced)


def _ddp_worker(rank: int, world: int, port: int, registry: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    info = init_distributed(device="cpu")
    task, synced = _train(registry, f"{out}/rank{rank}", world, rank, BATCH // world // 2, info)
    if rank == 0:
        torch.save({"state": task.state_dict(), "synced": synced}, f"{out}/result.pt")
    cleanup()


def test_ddp_all_reduces_only_the_last_micro_batch(tmp_path):
    """2 gloo ranks × 2 micro-batches of 2: one all-reduce per step, and the same weights
    as one process stepping over the whole batch of 8."""
    registry = str(write_registry(tmp_path))
    mp.spawn(_ddp_worker, args=(2, _free_port(), registry, str(tmp_path)), nprocs=2)
    result = torch.load(tmp_path / "result.pt", weights_only=True)
    assert result["synced"] == 3  # steps; 6 without no_sync
    one, _ = _train(registry, str(tmp_path / "one"), 1, 0, None, DistInfo())
    # Ranks sum gradients in another order than one process: float32 rounding (test_ddp).
    assert _max_diff(one.state_dict(), result["state"]) < 1e-4
