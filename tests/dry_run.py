"""Reading a ``snakemake -n`` run: how many jobs of each rule it would run."""

from __future__ import annotations

import re

_ROW = re.compile(r"(\w+)\s+(\d+)")


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from the last "Job stats:" table in snakemake's output (``total`` too).

    The table is ``job count``, a rule of dashes, then one ``rule N`` row per rule up to a
    blank line; Snakemake prints it before the jobs and again at the end of a dry run.
    Raises AssertionError when there is no table (so ``"rule" not in counts`` cannot
    pass on output that holds no job stats at all).
    """
    head, sep, table = output.rpartition("Job stats:")
    assert sep, f"no 'Job stats:' table in snakemake's output:\n{output[-3000:]}"
    counts: dict[str, int] = {}
    for line in table.splitlines()[1:]:
        line = line.strip()
        if not line:
            if counts:
                break
            continue
        if row := _ROW.fullmatch(line):
            counts[row[1]] = int(row[2])
        elif counts:
            break  # past the table
    return counts
