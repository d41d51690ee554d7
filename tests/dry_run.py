"""Reading what Snakemake plans, from its machine-readable outputs.

* ``snakemake --d3dag`` prints the job DAG as JSON on stdout: :func:`dag_jobs` counts its
  jobs per rule. The DAG holds every job the targets need, *including* jobs whose outputs
  already exist (a checkpoint's existing output, say) - unlike ``-n``'s "Job stats" table,
  which counts only the jobs that would run. Whether such a job would run is in
  ``--summary``'s ``plan`` column (:func:`summary`, :func:`pending_rules`).
* ``snakemake --summary`` prints one TSV row per output file of every DAG job:
  :func:`summary` (and :func:`planned_files`, file -> rule).
* ``snakemake -n -p`` (the workflow profile sets printshellcmds) prints each job's rule and
  its ``Shell command:`` line: :func:`shell_commands`, for runs restricted to the few
  targets whose commands matter.

Every parser raises AssertionError when its input holds nothing it recognises, so an
empty or broken output cannot pass an ``x not in ...`` check.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from typing import NamedTuple

__all__ = ["dag_jobs", "summary", "planned_files", "pending_rules", "SummaryRow",
           "shell_commands", "has_args", "arg_value"]


def dag_jobs(stdout: str) -> Counter[str]:
    """Jobs per rule in ``snakemake --d3dag``'s JSON (one node per job of the DAG)."""
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            dag = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(dag, dict) and isinstance(dag.get("nodes"), list):
            assert dag["nodes"], "snakemake --d3dag printed a DAG with no jobs"
            return Counter(node["value"]["rule"] for node in dag["nodes"])
    raise AssertionError(f"no --d3dag JSON (a 'nodes' list) in snakemake's stdout:\n{stdout[-3000:]}")


class SummaryRow(NamedTuple):
    output_file: str
    date: str
    rule: str
    log: str
    status: str  # "missing", "ok", ...
    plan: str  # "update pending" (the job would run) or "no update"


_SUMMARY_HEADER = "output_file\tdate\trule\tlog-file(s)\tstatus\tplan"


def summary(stdout: str) -> list[SummaryRow]:
    """The rows of ``snakemake --summary``: one per output file of every job in the DAG."""
    lines = stdout.splitlines()
    assert _SUMMARY_HEADER in lines, f"no --summary table in snakemake's stdout:\n{stdout[-3000:]}"
    rows = []
    for line in lines[lines.index(_SUMMARY_HEADER) + 1:]:
        if not line.strip():
            continue
        fields = line.split("\t")
        assert len(fields) == len(SummaryRow._fields), f"not a --summary row: {line!r}"
        rows.append(SummaryRow(*fields))
    assert rows, "snakemake --summary listed no output files"
    return rows


def planned_files(stdout: str) -> dict[str, str]:
    """Output file -> the rule of the job that makes it, from ``--summary`` (columns 1, 3)."""
    return {row.output_file: row.rule for row in summary(stdout)}


def pending_rules(stdout: str) -> set[str]:
    """Rules with at least one output that ``--summary`` marks "update pending" (would run)."""
    return {row.rule for row in summary(stdout) if row.plan == "update pending"}


_JOB = re.compile(r"(?:local)?(?:rule|checkpoint) (\w+):")
_SHELL = "Shell command: "


def shell_commands(stdout: str) -> dict[str, list[str]]:
    """Rule -> the shell command of each of its jobs, from ``snakemake -n -p``'s stdout.

    Each job is a ``rule NAME:`` (or ``checkpoint``/``localrule``) header, its indented
    properties, then a ``Shell command: ...`` line; a job without one (a target rule) maps
    to no command. Raises AssertionError when no job is listed.
    """
    commands: dict[str, list[str]] = {}
    rule = None
    for line in stdout.splitlines():
        if job := _JOB.fullmatch(line.strip()):
            rule = job[1]
            commands.setdefault(rule, [])
        elif line.startswith(_SHELL):
            assert rule is not None, f"a shell command outside any job: {line!r}"
            commands[rule].append(line[len(_SHELL):])
            rule = None
    assert commands, f"no jobs listed in snakemake -n -p's stdout:\n{stdout[-3000:]}"
    return commands


def has_args(command: str, *args: str) -> bool:
    """True when ``args`` occur in ``command``'s words as one contiguous run."""
    words, n = shlex.split(command), len(args)
    return any(words[i:i + n] == list(args) for i in range(len(words) - n + 1))


def arg_value(command: str, flag: str) -> str:
    """The word after ``flag`` in ``command`` (the flag must occur exactly once)."""
    words = shlex.split(command)
    assert words.count(flag) == 1, (flag, command)
    return words[words.index(flag) + 1]
