"""SSL training on tiny synthetic data: learning, frozen teacher, resume, signals, NaN."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from synthetic import SyntheticMultiCrop, tiny_config, write_registry

from pathfm.models import get_entry, load_model
from pathfm.train import REQUEUE_EXIT_CODE, LoopConfig, NonFiniteLossError, fit
from pathfm.train.checkpoint import latest_checkpoint, load_checkpoint
from pathfm.train.ssl import SSLTask, build_schedules, resolve_config, run


@pytest.fixture()
def registry(tmp_path):
    return write_registry(tmp_path)


def _log(path: Path) -> list[dict]:
    return [yaml.safe_load(line) for line in open(path / "log.jsonl")]


def test_dinov2_loss_decreases(registry, tmp_path):
    cfg = tiny_config(registry, objective="dinov2", steps=40, log_every=10, checkpoint_every=40)
    run(cfg, SyntheticMultiCrop(), tmp_path / "run", resume=False)
    log = _log(tmp_path / "run")
    assert log[-1]["loss"] < log[0]["loss"] - 0.5
    assert log[-1]["dino"] < log[0]["dino"]
    for key in ("dino", "ibot", "koleo", "lr", "wd", "momentum", "teacher_temp", "images_per_s"):
        assert key in log[0]


def test_teacher_gets_no_gradient(registry, tmp_path):
    cfg = resolve_config(tiny_config(registry, objective="dinov2", steps=3))
    task = SSLTask(cfg, get_entry("tiny-vit", registry))
    before = {k: v.clone() for k, v in task.teacher.state_dict().items()}
    fit(task, SyntheticMultiCrop(), tmp_path, LoopConfig(3, build_schedules(cfg), progress=False))
    for p in task.teacher.parameters():
        assert p.grad is None and not p.requires_grad
    assert any(p.grad is not None for p in task.student.parameters())
    changed = [not torch.equal(v, before[k]) for k, v in task.teacher.state_dict().items()]
    assert any(changed)  # moved by EMA only


def _weights(run_dir: Path) -> dict:
    return load_file(str(run_dir / "export" / "weights.safetensors"))


def test_resume_is_bitwise_equal(registry, tmp_path):
    cfg = tiny_config(registry, objective="dinov2", steps=20, checkpoint_every=10,
                      keep_checkpoints=5)
    run(cfg, SyntheticMultiCrop(), tmp_path / "full", resume=False)
    # A second run that holds only the step-10 checkpoint resumes from there.
    (tmp_path / "half" / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "full/checkpoints/step_00000010.pt", tmp_path / "half/checkpoints")
    run(cfg, SyntheticMultiCrop(), tmp_path / "half", resume=True)
    assert _log(tmp_path / "half")[0]["step"] == 15
    full, half = _weights(tmp_path / "full"), _weights(tmp_path / "half")
    assert full.keys() == half.keys()
    for k in full:
        assert torch.equal(full[k], half[k]), k
    # The export loads into the registry model with plain timm keys.
    load_model("tiny-vit", weights=tmp_path / "full/export/weights.safetensors",
               registry=registry)
    card = yaml.safe_load(open(tmp_path / "full/export/card.yaml"))
    assert card["code_version"] and card["model"]["contract"]["pooling"] == "cls"


SIGTERM_SCRIPT = textwrap.dedent("""
    import signal, sys
    from pathlib import Path
    import torch
    torch.set_num_threads(1)  # float reductions must not depend on the machine's load
    sys.path.insert(0, {helper!r})
    from synthetic import SyntheticMultiCrop, tiny_config
    from pathfm.train.ssl import run

    # argv[1], when given: the global index of the batch during whose fetch the job
    # is pre-empted. The loop fetches batch k in the main thread during step k, and
    # raise_signal runs the Python handler before it returns, so the stop flag is
    # always set within step k: no timing is involved.
    stop_at = int(sys.argv[1]) if len(sys.argv) > 1 else None

    class Preempted(SyntheticMultiCrop):
        def batch(self, epoch, index):
            if epoch * self.steps + index == stop_at:
                signal.raise_signal(signal.SIGTERM)
            return super().batch(epoch, index)

    cfg = tiny_config(Path({registry!r}), steps=40, checkpoint_every=100, log_every=1)
    run(cfg, Preempted(), Path({out!r}), resume=True)
""")
STOP_AT = 9  # batch 2 of epoch 1 (7 batches an epoch): resume lands mid-epoch


def test_sigterm_saves_and_exits_with_requeue_code(registry, tmp_path):
    # The reference runs in a fresh process too: this pytest worker's torch state (thread
    # count set by other tests) must not decide the float reductions being compared.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref_script = tmp_path / "ref.py"
    ref_script.write_text(SIGTERM_SCRIPT.format(helper=str(Path(__file__).parent),
                                                registry=str(registry), out=str(tmp_path / "ref")))
    assert subprocess.run([sys.executable, str(ref_script)], env=env, timeout=120).returncode == 0

    out = tmp_path / "job"
    script = tmp_path / "job.py"
    script.write_text(SIGTERM_SCRIPT.format(helper=str(Path(__file__).parent),
                                            registry=str(registry), out=str(out)))
    # SIGTERM during step STOP_AT: the loop finishes that step, checkpoints it, exits 75.
    stopped_run = subprocess.run([sys.executable, str(script), str(STOP_AT)], env=env,
                                 timeout=120)
    assert stopped_run.returncode == REQUEUE_EXIT_CODE
    stopped = load_checkpoint(latest_checkpoint(out / "checkpoints"))
    assert stopped["step"] == STOP_AT + 1
    assert [r["step"] for r in _log(out)] == list(range(1, STOP_AT + 2))

    # Rerunning the same command resumes from that checkpoint (the log goes on from
    # the next step instead of starting over) and ends bitwise where the
    # uninterrupted run does.
    assert subprocess.run([sys.executable, str(script)], env=env, timeout=120).returncode == 0
    assert [r["step"] for r in _log(out)] == list(range(1, 41))
    ref, job = _weights(tmp_path / "ref"), _weights(out)
    assert ref.keys() == job.keys()
    for k in ref:
        assert torch.equal(ref[k], job[k]), k


def test_nan_loss_stops_and_keeps_last_good_checkpoint(registry, tmp_path):
    cfg = tiny_config(registry, steps=20, checkpoint_every=10)
    with pytest.raises(NonFiniteLossError, match=r"step 13.*step_00000010\.pt"):
        run(cfg, SyntheticMultiCrop(nan_at=13), tmp_path, resume=False)
    last = latest_checkpoint(tmp_path / "checkpoints")
    assert last.name == "step_00000010.pt"
    state = load_checkpoint(last)
    assert state["step"] == 10
    assert all(torch.isfinite(v).all() for v in state["task"].values() if v.is_floating_point())


def test_rerun_with_other_settings_starts_over_instead_of_resuming(registry, tmp_path):
    short = tiny_config(registry, objective="dinov2", steps=10, checkpoint_every=5, log_every=5)
    run(short, SyntheticMultiCrop(), tmp_path / "run", resume=True)
    # Other bookkeeping only: the finished run resumes at its last step, nothing is set aside.
    run({**short, "log_every": 2}, SyntheticMultiCrop(), tmp_path / "run", resume=True)
    assert not (tmp_path / "run" / "checkpoints.stale").exists()
    # Longer: its schedules differ, so it must not continue from the short run's step 10.
    long = {**short, "steps": 20}
    run(long, SyntheticMultiCrop(), tmp_path / "run", resume=True)
    assert (tmp_path / "run" / "checkpoints.stale" / "step_00000010.pt").exists()
    assert (tmp_path / "run" / "log.stale.jsonl").exists()
    assert [r["step"] for r in _log(tmp_path / "run")] == [5, 10, 15, 20]
    run(long, SyntheticMultiCrop(), tmp_path / "fresh", resume=False)
    rerun, fresh = _weights(tmp_path / "run"), _weights(tmp_path / "fresh")
    for k in fresh:
        assert torch.equal(rerun[k], fresh[k]), k
