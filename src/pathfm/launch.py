"""The launch line for a training step: plain python, torchrun on one node, or srun + torchrun.

Rules call every GPU step through the launcher so that the same rule runs on a
laptop, a GPU workstation and a Slurm cluster; only the resources change::

    pathfm launch --gpus {resources.gpu} --nodes {resources.nodes} -- \\
        train-ssl --model ... > {log} 2>&1

(:func:`command_argv_for_resources` writes that prefix; in a rule's shell ``pathfm`` is
the interpreter that runs Snakemake, see pathfm.workflow.shell_args.shell_prefix) gives,
for ``G`` GPUs per node and ``N`` nodes:

- ``G <= 1, N == 1``: ``python -m pathfm train-ssl ...`` (one process, no
  torch.distributed at all: ``pathfm.train.ddp`` sees no WORLD_SIZE);
- ``G >= 2, N == 1``: ``torchrun --standalone --nproc-per-node G -m pathfm train-ssl ...``
  (a private rendezvous on the node, no port to choose);
- ``N >= 2`` (inside a Slurm allocation of N nodes)::

      srun --overlap --nodes N --ntasks N --ntasks-per-node 1 --kill-on-bad-exit=1 \\
          torchrun --nnodes N --nproc-per-node G --rdzv-backend c10d \\
          --rdzv-endpoint HEAD:29500 --rdzv-id $SLURM_JOB_ID -m pathfm train-ssl ...

  one torchrun agent per node, meeting at the allocation's first node.

The older form, a script path after ``--`` (``python scripts/launch.py --gpus G
--nodes N -- scripts/train_ssl.py ...``), still works: the script runs as ``python SCRIPT``
or ``torchrun ... SCRIPT``. Anything else after ``--`` (a program) runs as is, or
under ``torchrun --no-python``.

Why ``--overlap``: Snakemake's Slurm jobstep plugin already runs the rule's shell
inside a one-task ``srun`` step, which holds the first node's CPUs; without it
the nested step waits for them forever. Why ``--ntasks N`` explicitly: the outer
step exports ``SLURM_NTASKS=1``, which srun would otherwise read as ``-n 1`` and
shrink the step to one node.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_RDZV_PORT = 29500


class LaunchError(RuntimeError):
    """The requested geometry cannot be launched here (e.g. multi-node outside Slurm)."""


def gpus_per_node(gpu: int = 0, nodes: int = 1, gres: str | None = None) -> int:
    """GPUs on each node of a job with Snakemake resources ``gpu``, ``nodes`` and ``gres``.

    ``gpu`` becomes ``sbatch --gpus``, a total for the job; ``gres="gpu:G"`` (or
    ``gpu:MODEL:G``) becomes ``--gres``, a count per node, and wins when given. A
    total must split evenly over the nodes (Slurm could otherwise place them unevenly).
    """
    if gres and (found := re.fullmatch(r"gpu(?::[\w.]+)?:(\d+)", gres)):
        return int(found[1])
    if gpu % nodes:
        raise LaunchError(f"gpu={gpu} does not split evenly over {nodes} nodes: request "
                          f"GPUs per node with gres='gpu:G' instead")
    return gpu // nodes


def resources_geometry(resources) -> tuple[int, int]:
    """``(GPUs per node, nodes)`` of a Snakemake job's resources (``gpu``, ``nodes``, ``gres``)."""
    nodes = int(getattr(resources, "nodes", 1))
    gpus = gpus_per_node(int(getattr(resources, "gpu", 0)), nodes,
                         getattr(resources, "gres", None))
    return gpus, nodes


def command_argv(gpus: int = 0, nodes: int = 1) -> list[str]:
    """The words a rule's shell puts before a ``pathfm`` subcommand:
    ``pathfm launch --gpus G --nodes N --`` (then e.g. ``train-ssl --model ...``).

    The launch line itself is chosen when the job runs (by ``pathfm launch``), because a
    multi-node line needs the allocation's node list, known only then.
    """
    if gpus < 0 or nodes < 1:
        raise LaunchError(f"need gpus >= 0 and nodes >= 1, got gpus={gpus}, nodes={nodes}")
    return ["pathfm", "launch", "--gpus", str(gpus), "--nodes", str(nodes), "--"]


def command_prefix(gpus: int = 0, nodes: int = 1) -> str:
    """:func:`command_argv` as one shell-quoted string."""
    return shlex.join(command_argv(gpus, nodes))


def command_argv_for_resources(resources) -> list[str]:
    """:func:`command_argv` from a Snakemake job's resources (``gpu``, ``nodes``, ``gres``)."""
    return command_argv(*resources_geometry(resources))


def command_prefix_for_resources(resources) -> str:
    """:func:`command_prefix` from a Snakemake job's resources (``gpu``, ``nodes``, ``gres``)."""
    return shlex.join(command_argv_for_resources(resources))


def is_subcommand(name: str) -> bool:
    """Whether ``name`` is a ``pathfm`` subcommand (``train-ssl``, ``distill``, ...)."""
    from pathfm.cli import subcommands

    return name in subcommands()


def torchrun_prefix(python: str = sys.executable) -> list[str]:
    """``torchrun`` beside this interpreter (same venv), or ``python -m torch.distributed.run``."""
    beside = Path(python).parent / "torchrun"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("torchrun")
    return [found] if found else [python, "-m", "torch.distributed.run"]


def slurm_hostnames(nodelist: str) -> list[str]:
    """Expand a Slurm node list (``gpu[01-03],cpu7``) with ``scontrol show hostnames``."""
    try:
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], check=True,
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise LaunchError(f"cannot expand the Slurm node list {nodelist!r}: {err}") from err
    return out.split()


def launch_command(command: Sequence[str], gpus: int = 0, nodes: int = 1, *,
                   env: Mapping[str, str] | None = None, port: int = DEFAULT_RDZV_PORT,
                   python: str = sys.executable,
                   hostnames=slurm_hostnames) -> list[str]:
    """The argv that runs ``command`` on ``gpus`` x ``nodes``.

    ``command`` is a ``pathfm`` subcommand and its arguments (``["train-ssl", ...]``,
    run as ``python -m pathfm train-ssl ...`` / ``torchrun ... -m pathfm train-ssl ...``),
    a Python script and its arguments (``["scripts/train_ssl.py", ...]``), or a program.

    ``gpus`` is the number of GPUs per node (0 on CPU); ``nodes`` the number of
    nodes. Multi-node launches read ``SLURM_JOB_ID`` and ``SLURM_JOB_NODELIST``
    from ``env`` (default: the process environment) and fail clearly outside an
    allocation of at least ``nodes`` nodes.
    """
    command = list(command)
    if not command:
        raise LaunchError("nothing to launch: give the script and its arguments")
    if gpus < 0 or nodes < 1:
        raise LaunchError(f"need gpus >= 0 and nodes >= 1, got gpus={gpus}, nodes={nodes}")
    # A script runs under this interpreter; a pathfm subcommand as `-m pathfm SUB`
    # under it; anything else (a binary) under --no-python.
    if command[0].endswith(".py"):
        plain, script = [python, *command], command
    elif is_subcommand(command[0]):
        plain, script = [python, "-m", "pathfm", *command], ["-m", "pathfm", *command]
    else:
        plain, script = command, ["--no-python", *command]
    if nodes == 1:
        if gpus <= 1:
            return plain
        return [*torchrun_prefix(python), "--standalone", "--nproc-per-node", str(gpus), *script]

    env = os.environ if env is None else env
    job, nodelist = env.get("SLURM_JOB_ID"), env.get("SLURM_JOB_NODELIST")
    if not job or not nodelist:
        raise LaunchError(
            f"{nodes} nodes requested outside a Slurm allocation (no SLURM_JOB_ID / "
            "SLURM_JOB_NODELIST): submit with `snakemake --profile slurm` or sbatch "
            "--nodes, or set the node count to 1")
    hosts = hostnames(nodelist)
    if len(hosts) < nodes:
        raise LaunchError(f"{nodes} nodes requested but Slurm job {job} holds "
                          f"{len(hosts)}: {', '.join(hosts)}")
    return [
        "srun", "--overlap", "--nodes", str(nodes), "--ntasks", str(nodes),
        "--ntasks-per-node", "1", "--kill-on-bad-exit=1",
        *torchrun_prefix(python), "--nnodes", str(nodes), "--nproc-per-node", str(max(gpus, 1)),
        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{hosts[0]}:{port}", "--rdzv-id", job,
        *script,
    ]
