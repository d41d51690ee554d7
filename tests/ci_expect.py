"""Skip a test whose external dependency is missing, unless CI said it must be there.

``.ci/run`` exports ``PATHFM_CI_EXPECT`` (space- or comma-separated names, e.g.
``"slurm chromium"``) after installing those dependencies. A test that would skip for
lack of one of them fails instead, so a broken installer cannot turn CI green by
skipping the cluster or report tests. Without the variable (local development) the
tests skip as before.
"""

from __future__ import annotations

import os

import pytest

ENV = "PATHFM_CI_EXPECT"


def expected(dependency: str) -> bool:
    """True when $PATHFM_CI_EXPECT names ``dependency`` (case-insensitive)."""
    names = os.environ.get(ENV, "").replace(",", " ").lower().split()
    return dependency.lower() in names


def skip_or_fail(dependency: str, reason: str) -> None:
    """``pytest.fail`` if CI expects ``dependency``, ``pytest.skip`` otherwise."""
    __tracebackhide__ = True  # report the caller's line, not this one
    if expected(dependency):
        pytest.fail(f"{reason} (CI expects {dependency}: {ENV}={os.environ[ENV]!r})",
                    pytrace=False)
    pytest.skip(reason)
