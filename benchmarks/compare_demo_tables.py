"""Cell-by-cell differences between demo runs' paper tables, beside a seed-to-seed spread.

    python benchmarks/compare_demo_tables.py BEFORE/results/tables AFTER/results/tables \\
        AFTER_OTHER_SEED/results/tables

For each table CSV: max / mean absolute difference over its numeric cells (our columns
only; "mean (std)" cells by their mean) between BEFORE and AFTER, and between AFTER and
the same code with other training seeds, the spread a change should stay within.
"""

from __future__ import annotations

import glob
import os
import re
import sys

import numpy as np
import pandas as pd

_TEXT = ("model", "paper row", "contract", "source")


def _number(value) -> float:
    m = re.match(r"^\s*(-?[0-9.]+)", str(value))
    return float(m.group(1)) if m else np.nan


def differences(dir_a: str, dir_b: str) -> dict[str, np.ndarray | None]:
    out: dict[str, np.ndarray | None] = {}
    for path in sorted(glob.glob(os.path.join(dir_a, "*.csv"))):
        name = os.path.basename(path)
        a, b = pd.read_csv(path), pd.read_csv(os.path.join(dir_b, name))
        if a.shape != b.shape:
            out[name] = None
            continue
        d: list[float] = []
        for col in a.columns:
            if "(paper)" in col or col in _TEXT:
                continue
            x, y = a[col].map(_number), b[col].map(_number)
            both = x.notna() & y.notna()
            d += list((x[both] - y[both]).abs())
        out[name] = np.array(d)
    return out


def main(argv: list[str] | None = None) -> int:
    before, after, other_seed = (argv or sys.argv[1:])[:3]
    change, spread = differences(before, after), differences(after, other_seed)
    print(f"{'table':38} {'change max / mean':>20} {'seed spread max / mean':>24}")
    for name, x in change.items():
        y = spread.get(name)
        if x is None or y is None or not len(x):
            print(f"{name:38} (different shape or no numbers)")
            continue
        print(f"{name:38} {x.max():8.3f} / {x.mean():.4f}   {y.max():10.3f} / {y.mean():.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
