"""Shared plumbing for the step scripts in ``scripts/`` (logging, JSON arguments)."""

from __future__ import annotations

import json
import logging
import sys


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr with timestamps; Snakemake rules redirect it into ``{log}``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def json_object(text: str) -> dict:
    """argparse type for a JSON object given on the command line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc}): {text[:200]}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def id_path_pairs(items: list[str], flag: str) -> dict[str, str]:
    """``["ID=PATH", …]`` from a repeated CLI option → ``{ID: PATH}``; a malformed item exits."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"{flag}: expected SLIDE_ID=PATH, got {item!r}")
        out[key] = value
    return out


# --- the ``pathfm`` entry point --------------------------------------------------------------

PROG = "pathfm"
COMMANDS_PACKAGE = "pathfm.commands"


def module_name(subcommand: str) -> str:
    """``train-ssl`` → ``train_ssl``: the module of ``pathfm.commands`` a subcommand runs."""
    return subcommand.replace("-", "_")


def subcommand_name(module: str) -> str:
    """``train_ssl`` → ``train-ssl``."""
    return module.replace("_", "-")


def subcommands() -> list[str]:
    """Every subcommand, sorted: one per module of :mod:`pathfm.commands` (none imported)."""
    import pkgutil

    from pathfm import commands

    return sorted(subcommand_name(info.name) for info in pkgutil.iter_modules(commands.__path__)
                  if not info.name.startswith("_"))


def summary(subcommand: str) -> str:
    """The first line of a subcommand's module docstring, read from its source (no import)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(f"{COMMANDS_PACKAGE}.{module_name(subcommand)}")
    if spec is None or not spec.origin:
        return ""
    with open(spec.origin, encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read(), spec.origin)) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def usage(names: list[str] | None = None) -> str:
    """``pathfm --help``: the synopsis and every subcommand with its one-line summary."""
    names = subcommands() if names is None else names
    width = max(map(len, names), default=0)
    lines = [f"usage: {PROG} <subcommand> [args ...]", f"       {PROG} <subcommand> --help", "",
             "Run one pathfm step; the arguments after the subcommand go to it unchanged.", "",
             "subcommands:"]
    lines += [f"  {name.ljust(width)}  {summary(name)}" for name in names]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``pathfm <subcommand> args…``: run ``pathfm.commands.<module>.main(args)``.

    Only the chosen subcommand's module is imported. ``--help`` (or no subcommand)
    lists them all; an unknown one is an error (exit 2) that names the valid ones.
    """
    import importlib

    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        stream = sys.stdout if argv else sys.stderr
        stream.write(usage())
        return 0 if argv else 2
    sub, rest = argv[0], argv[1:]
    names = subcommands()
    if sub not in names:
        sys.stderr.write(f"{PROG}: error: unknown subcommand {sub!r}; valid subcommands: "
                         f"{', '.join(names)}\n(run '{PROG} --help' for what each one does)\n")
        return 2
    module = importlib.import_module(f"{COMMANDS_PACKAGE}.{module_name(sub)}")
    saved = sys.argv[0]
    sys.argv[0] = f"{PROG} {sub}"  # argparse's prog: "usage: pathfm embed ..."
    try:
        code = module.main(rest)
    finally:
        sys.argv[0] = saved
    return 0 if code is None else code
