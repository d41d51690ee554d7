"""How planners write values into rules: JSON arguments, argument lists, wildcard
constraints, and the shell prefix that makes ``pathfm`` the project's own.

Rule shell lines quote every value they interpolate (Snakemake's ``{x:q}``, which quotes
each element of a list on its own), so a config string such as
``gdc_api: "http://host$(touch x)"`` reaches its script as one literal argument and never
runs in the shell. Options made of several words are therefore lists (``argv``), one
element per argument, never pre-joined strings; the ``*_args`` string forms some planners
keep are :func:`joined` from them, for reading and for tests.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable


def as_json(obj) -> str:
    """A compact, key-sorted JSON argument (stable, so params do not change between runs)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def wildcard_choice(names: Iterable[str]) -> str:
    """Regex matching exactly these names (or nothing), to keep rules of different sources apart."""
    names = list(names)
    return "|".join(map(re.escape, names)) if names else "(?!x)x"


def words(value) -> list[str]:
    """A value as argument words: nothing for None, one word for a string (a file of a
    job's input or output too), each element of a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def option(flag: str, value) -> list[str]:
    """``[flag, value...]`` for an optional option; nothing when value is None, "" or an
    empty list."""
    values = [v for v in words(value) if v != ""]
    return [flag, *values] if values else []


def joined(argv: Callable[..., list[str]]) -> Callable[..., str]:
    """The shell-quoted one-string form of a function returning argument words."""

    @functools.wraps(argv)
    def as_string(*args, **kwargs) -> str:
        return shlex.join(argv(*args, **kwargs))

    return as_string


def pathfm_command(conda: bool = False, python: str | None = sys.executable) -> list[str]:
    """The words that run ``pathfm`` in a rule's shell.

    ``python -m pathfm`` under the interpreter that runs Snakemake (``sys.executable``:
    the venv's python, its symlink unresolved, so the venv's packages): jobs run the
    project's code whatever PATH holds, so ``/path/to/.venv/bin/snakemake`` needs no
    activated venv. Slurm jobs run the same way: the executor starts each job's Snakemake
    with this same interpreter path (a shared file system), which reads the workflow
    again. With ``conda`` (``--sdm conda``: jobs run in the rules' environment,
    envs/pathfm.yaml) the environment's own ``pathfm``, first on the job's PATH.
    """
    if conda or not python:
        return ["pathfm"]
    return [python, "-m", "pathfm"]


def shell_prefix(pathfm: list[str], shell_executable: str | None = "bash") -> str:
    """What Snakemake's ``shell.prefix`` puts before every rule's command.

    Bash's strict mode (Snakemake's own prefix, which any prefix replaces), then, unless
    ``pathfm`` is the console script itself, a shell function ``pathfm`` running
    ``pathfm`` (:func:`pathfm_command`) with its arguments: rule commands, and the
    printed ``-n -p`` ones, keep reading ``pathfm SUBCOMMAND ...``. Braces are doubled,
    as ``shell.prefix`` formats the text it is given.
    """
    strict = "set -euo pipefail; " if os.path.basename(shell_executable or "") == "bash" else ""
    function = "" if list(pathfm) == ["pathfm"] else f'pathfm() {{ {shlex.join(pathfm)} "$@"; }}; '
    return (strict + function).replace("{", "{{").replace("}", "}}")


def rule_shell_prefix(workflow, shell_executable: str | None) -> str:
    """:func:`shell_prefix` for this Snakemake run (its ``workflow`` object and shell):
    the conda environment's ``pathfm`` under ``--sdm conda``, else this interpreter's."""
    from snakemake.settings.types import DeploymentMethod

    settings = getattr(workflow, "deployment_settings", None)
    methods = getattr(settings, "deployment_method", None) or ()
    return shell_prefix(pathfm_command(conda=DeploymentMethod.CONDA in methods),
                        shell_executable)
