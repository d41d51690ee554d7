"""Per-run metric dicts -> the ``runs`` argument of :func:`pathfm.bench.result.write_result`.

The slide-level benchmarks produce one ``{metric: value}`` dict per run (seed or
fold). A run can leave a metric undefined (NaN: an AUC on a test fold holding one
class, a C-index with no comparable pair); averaging it in would make the whole
result NaN, and JSON has no NaN. Such values are left out of the metric's run
list and their run indices recorded, so the mean is over the runs that scored.
"""

from __future__ import annotations

import math


def runs_by_metric(runs: list[dict[str, float]]) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """[{metric: value} per run] -> ({metric: [finite values]}, {metric: [skipped run indices]}).

    A metric no run could score is left out of the first dict (it has no mean) and
    listed with every run index in the second.
    """
    names = sorted({k for r in runs for k in r})
    values: dict[str, list[float]] = {}
    skipped: dict[str, list[int]] = {}
    for name in names:
        vals = [(i, float(r.get(name, math.nan))) for i, r in enumerate(runs)]
        good = [v for _, v in vals if math.isfinite(v)]
        bad = [i for i, v in vals if not math.isfinite(v)]
        if good:
            values[name] = good
        if bad:
            skipped[name] = bad
    return values, skipped
