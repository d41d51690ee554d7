"""LoopConfig.from_run: the one mapping from a run config to the loop's settings."""

import dataclasses

import pytest
from distill_helpers import gpfm_config, h0mini_config
from synthetic import tiny_config, write_registry

import pathfm.train.distill as distill
import pathfm.train.gpfm as gpfm
import pathfm.train.ssl as ssl
from pathfm.train import LoopConfig
from pathfm.train.distill_config import resolve_distill_config


def _fields(c: LoopConfig) -> dict:
    return {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}


def test_from_run_maps_every_setting(tmp_path):
    cfg = ssl.resolve_config(tiny_config(write_registry(tmp_path), steps=17, precision="bf16",
                                         checkpoint_every=4, keep_checkpoints=3, log_every=2,
                                         optim={"betas": [0.8, 0.95], "clip_grad": None}))
    schedules, extra = ssl.build_schedules(cfg), {"config": cfg}
    loop = LoopConfig.from_run(cfg, schedules, extra_state=extra)
    assert _fields(loop) == _fields(LoopConfig(
        total_steps=17, schedules=schedules, checkpoint_every=4, keep_checkpoints=3,
        log_every=2, clip_grad=None, precision="bf16", adamw_betas=(0.8, 0.95),
        progress=False, extra_state=extra))
    assert loop.adamw_betas == (0.8, 0.95) and isinstance(loop.adamw_betas, tuple)
    assert loop.schedules is schedules and loop.extra_state is extra


class _Captured(Exception):
    pass


@pytest.fixture()
def captured(monkeypatch):
    """Each run() stops at the loop; its LoopConfig is kept (no model is trained)."""
    seen = {}

    def fake_fit(task, data, out_dir, loop_cfg, *args, **kwargs):
        seen["loop"] = loop_cfg
        raise _Captured

    monkeypatch.setattr(ssl, "fit", fake_fit)
    monkeypatch.setattr(distill, "fit_and_export", fake_fit)
    monkeypatch.setattr(distill, "build_task", lambda cfg, info: None)
    monkeypatch.setattr(gpfm, "fit_and_export", fake_fit)
    monkeypatch.setattr(gpfm, "build_experts", lambda cfg: {})
    monkeypatch.setattr(gpfm, "GPFMTask", lambda cfg, experts, info: None)
    return seen


def _loop_of(run, config, out_dir, seen) -> LoopConfig:
    with pytest.raises(_Captured):
        run(config, None, out_dir, resume=False)
    return seen.pop("loop")


def test_each_trainer_takes_its_loop_settings_from_its_run_section(tmp_path, captured):
    registry = write_registry(tmp_path)
    raw = tiny_config(registry, steps=9, log_every=3, optim={"betas": [0.7, 0.9]},
                      deterministic=False)  # leaves torch's global switch alone
    cfg = ssl.resolve_config(raw)
    loop = _loop_of(ssl.run, raw, tmp_path / "ssl", captured)
    assert _fields(loop) == _fields(LoopConfig.from_run(
        cfg, ssl.build_schedules(cfg), extra_state={"config": cfg}))
    assert (loop.total_steps, loop.log_every, loop.adamw_betas) == (9, 3, (0.7, 0.9))

    raw = h0mini_config(registry, steps=11, checkpoint_every=5, optim={"betas": [0.5, 0.6]},
                        deterministic=False)
    cfg = resolve_distill_config({"method": "h0mini", **raw})
    loop = _loop_of(distill.run, raw, tmp_path / "h0", captured)
    assert _fields(loop) == _fields(LoopConfig.from_run(
        cfg, distill.build_schedules(cfg, 1), extra_state={"config": cfg}))
    assert (loop.total_steps, loop.checkpoint_every, loop.adamw_betas) == (11, 5, (0.5, 0.6))

    # GPFM: the loop settings and schedules are the ssl section's, the checkpoints
    # record the whole config.
    raw = gpfm_config(registry, steps=13, log_every=4, deterministic=False)
    cfg = resolve_distill_config({"method": "gpfm", **raw})
    loop = _loop_of(gpfm.run, raw, tmp_path / "gpfm", captured)
    assert _fields(loop) == _fields(LoopConfig.from_run(
        cfg["ssl"], ssl.build_schedules(cfg["ssl"]), extra_state={"config": cfg}))
    assert (loop.total_steps, loop.log_every) == (13, 4)
    assert loop.extra_state["config"]["method"] == "gpfm"
