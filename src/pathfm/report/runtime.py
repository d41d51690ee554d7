"""Per-rule run times from Snakemake ``benchmark:`` files, so regressions show between runs.

``runtime/{rule}/{wildcards}.tsv`` holds one header line and one line per repeat with the
wall-clock seconds in the ``s`` column; the rule is the first folder under ``runtime/``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd


def summarize_runtime(root: str | Path) -> dict[str, dict]:
    """{rule: {jobs, total_s, max_s, mean_s}}, rules sorted by total time (largest first)."""
    root = Path(root)
    seconds: dict[str, list[float]] = defaultdict(list)
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0]
        frame = pd.read_csv(path, sep="\t")
        if "s" not in frame.columns:
            raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column)")
        if len(frame):
            seconds[rule].append(float(frame["s"].mean()))
    summary = {
        rule: {"jobs": len(v), "total_s": round(sum(v), 3), "max_s": round(max(v), 3),
               "mean_s": round(sum(v) / len(v), 3)}
        for rule, v in seconds.items()
    }
    return dict(sorted(summary.items(), key=lambda kv: -kv[1]["total_s"]))
