"""The launch line for 0/1 GPU, one node with several GPUs, and several Slurm nodes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pathfm.launch import (
    LaunchError, command_prefix, command_prefix_for_resources, gpus_per_node, launch_command,
)

from .conftest import REPO

PY = "/venv/bin/python"


def test_cpu_and_one_gpu_run_plain_python():
    for gpus in (0, 1):
        assert launch_command(["train.py", "--x", "1"], gpus, python=PY) == [
            PY, "train.py", "--x", "1"]
    assert launch_command(["/bin/echo", "hi"], 0, python=PY) == ["/bin/echo", "hi"]


def test_one_node_many_gpus_uses_standalone_torchrun():
    line = launch_command(["train.py", "--x", "1"], 4, python=PY)
    assert line[-6:] == ["--standalone", "--nproc-per-node", "4", "train.py", "--x", "1"]
    assert line[0].endswith("torchrun") or line[:3] == [PY, "-m", "torch.distributed.run"]


def test_multi_node_reads_the_allocation():
    env = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu[07-08]"}
    seen = []

    def hosts(nodelist):
        seen.append(nodelist)
        return ["gpu07", "gpu08"]

    line = launch_command(["train.py"], 8, 2, env=env, python=PY, hostnames=hosts)
    assert seen == ["gpu[07-08]"]
    assert line[:10] == ["srun", "--overlap", "--nodes", "2", "--ntasks", "2",
                         "--ntasks-per-node", "1", "--kill-on-bad-exit=1", line[9]]
    tail = line[line.index("--nnodes"):]
    assert tail == ["--nnodes", "2", "--nproc-per-node", "8", "--rdzv-backend", "c10d",
                    "--rdzv-endpoint", "gpu07:29500", "--rdzv-id", "4242", "train.py"]


def test_a_pathfm_subcommand_runs_as_the_pathfm_module():
    for gpus in (0, 1):
        assert launch_command(["train-ssl", "--x", "1"], gpus, python=PY) == [
            PY, "-m", "pathfm", "train-ssl", "--x", "1"]
    line = launch_command(["train-ssl", "--x", "1"], 2, python=PY)
    assert line[-8:] == ["--standalone", "--nproc-per-node", "2",
                         "-m", "pathfm", "train-ssl", "--x", "1"]
    env = {"SLURM_JOB_ID": "7", "SLURM_JOB_NODELIST": "gpu[1-2]"}
    line = launch_command(["distill", "--y"], 4, 2, env=env, python=PY,
                          hostnames=lambda s: ["gpu1", "gpu2"])
    assert line[:2] == ["srun", "--overlap"]
    assert line[line.index("--nnodes"):] == [
        "--nnodes", "2", "--nproc-per-node", "4", "--rdzv-backend", "c10d",
        "--rdzv-endpoint", "gpu1:29500", "--rdzv-id", "7", "-m", "pathfm", "distill", "--y"]
    # Not a subcommand and not a .py file: a program, as before.
    assert launch_command(["train_ssl"], 0, python=PY) == ["train_ssl"]
    assert launch_command(["prog"], 2, python=PY)[-2:] == ["--no-python", "prog"]


def test_multi_node_fails_clearly_outside_slurm_or_on_too_few_nodes():
    with pytest.raises(LaunchError, match="outside a Slurm allocation"):
        launch_command(["train.py"], 4, 2, env={})
    env = {"SLURM_JOB_ID": "1", "SLURM_JOB_NODELIST": "n1"}
    with pytest.raises(LaunchError, match="holds 1"):
        launch_command(["train.py"], 4, 2, env=env, hostnames=lambda s: ["n1"])
    with pytest.raises(LaunchError, match="nodes >= 1"):
        launch_command(["train.py"], 1, 0)
    with pytest.raises(LaunchError, match="nothing to launch"):
        launch_command([], 1, 1)


def test_script_execs_the_command_and_passes_its_exit_code(tmp_path):
    job = tmp_path / "job.py"
    job.write_text("import sys; print('ran', sys.argv[1:]); sys.exit(75)\n")
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "launch.py"), "--gpus", "0",
                          "--", str(job), "--a", "b"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 75  # the requeue code reaches Snakemake / Slurm unchanged
    assert "ran ['--a', 'b']" in res.stdout
    assert "launch: " in res.stderr


def test_pathfm_launch_execs_the_subcommand_and_passes_its_exit_code():
    res = subprocess.run([sys.executable, "-m", "pathfm", "launch", "--gpus", "0", "--",
                          "synth-manifest", "--no-such-option"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2  # argparse's exit code from inside the subcommand
    assert "launch: " in res.stderr and " -m pathfm synth-manifest --no-such-option" in res.stderr
    assert "usage: pathfm synth-manifest" in res.stderr
    assert "error: the following arguments are required: --slides" in res.stderr


def test_pathfm_launch_prints_the_line():
    res = subprocess.run([sys.executable, "-m", "pathfm", "launch", "--gpus", "2", "--print",
                          "--", "train-ssl", "--steps", "3"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith(
        "--standalone --nproc-per-node 2 -m pathfm train-ssl --steps 3")


def test_script_refuses_multi_node_outside_slurm():
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "launch.py"), "--nodes", "2",
                          "--print", "--", "train.py"], capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert res.returncode == 2 and "outside a Slurm allocation" in res.stderr


class Resources:
    """Snakemake's job resources as rules' params functions see them (attributes)."""

    def __init__(self, **values):
        self.__dict__.update(values)


def test_gpus_per_node_from_a_job_total_or_a_per_node_gres():
    assert gpus_per_node(0) == 0 and gpus_per_node(8) == 8
    assert gpus_per_node(16, 2) == 8  # sbatch --gpus is the job's total
    assert gpus_per_node(0, 2, "gpu:4") == 4  # --gres is per node
    assert gpus_per_node(16, 4, "gpu:a100:4") == 4
    with pytest.raises(LaunchError, match="split evenly"):
        gpus_per_node(3, 2)


def test_command_prefix_is_the_pathfm_launch_subcommand():
    assert command_prefix() == "pathfm launch --gpus 0 --nodes 1 --"
    assert command_prefix(4) == "pathfm launch --gpus 4 --nodes 1 --"
    assert command_prefix(8, 2) == "pathfm launch --gpus 8 --nodes 2 --"
    with pytest.raises(LaunchError, match="nodes >= 1"):
        command_prefix(1, 0)
    with pytest.raises(LaunchError, match="gpus >= 0"):
        command_prefix(-1)
    assert command_prefix_for_resources(Resources(gpu=16, nodes=2)) == (
        "pathfm launch --gpus 8 --nodes 2 --")
    with pytest.raises(LaunchError, match="split evenly"):
        command_prefix_for_resources(Resources(gpu=3, nodes=2))


def test_rule_launch_commands_pass_the_jobs_resources_to_pathfm_launch():
    assert command_prefix_for_resources(Resources(gpu=0, nodes=1)) == "pathfm launch --gpus 0 --nodes 1 --"
    assert command_prefix_for_resources(Resources(gpu=4)) == "pathfm launch --gpus 4 --nodes 1 --"
    assert command_prefix_for_resources(Resources()) == "pathfm launch --gpus 0 --nodes 1 --"
    assert command_prefix_for_resources(Resources(gpu=16, nodes=2, gres="gpu:8")) == (
        "pathfm launch --gpus 8 --nodes 2 --")
