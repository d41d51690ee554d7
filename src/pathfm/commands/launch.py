"""Run a step (pathfm subcommand or script) as one process, under torchrun, or srun + torchrun.

    pathfm launch --gpus 4 --nodes 1 -- train-ssl --model ... --out-dir ...
    python scripts/launch.py --gpus 4 --nodes 1 -- scripts/train_ssl.py --model ... --out-dir ...

The launch line is chosen by pathfm.launch.launch_command (see its docstring) and
replaces this process (exec), so signals such as Slurm's SIGTERM reach the
trainer directly and its exit code (75: requeue) is the step's exit code.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from pathfm.launch import DEFAULT_RDZV_PORT, LaunchError, launch_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=0, help="GPUs per node (0: CPU)")
    parser.add_argument("--nodes", type=int, default=1, help="nodes (>1 needs a Slurm job)")
    parser.add_argument("--port", type=int, default=DEFAULT_RDZV_PORT,
                        help="rendezvous port on the first node (multi-node only)")
    parser.add_argument("--print", action="store_true", dest="print_only",
                        help="print the launch line instead of running it")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- then the pathfm subcommand (or script) and its arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        line = launch_command(command, args.gpus, args.nodes, port=args.port)
    except LaunchError as err:
        parser.error(str(err))
    print("launch: " + shlex.join(line), file=sys.stderr, flush=True)
    if args.print_only:
        print(shlex.join(line))
        return 0
    os.execvp(line[0], line)


if __name__ == "__main__":
    raise SystemExit(main())
