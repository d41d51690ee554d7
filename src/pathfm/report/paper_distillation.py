"""GPFM Fig. 8: the gain of expert distillation (on minus off), averaged over tasks,
beside the gains the GPFM blog states (its per-task bars exist only as an image).

Spec: ``rows`` with labels ``on`` and ``off`` (model None when not run), ``cells``
{task column: "benchmark/task/"} prefixes, ``metrics`` {paper metric: our metric}.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from pathfm.report.paper_compare import NO_VALUE, NOT_RUN, metric_of
from pathfm.report.tables import mean_std


def distillation_table(results: Mapping, published: pd.DataFrame, spec: Mapping) -> pd.DataFrame:
    models = {r["label"]: r.get("model") for r in spec["rows"]}
    paper = {str(r["metric"]): float(r["delta"]) for _, r in published.iterrows()}
    prefixes = [p for p in spec.get("cells", {}).values() if p]
    out = []
    for paper_metric, ours in spec["metrics"].items():
        means = {}
        for arm in ("on", "off"):
            model = models.get(arm)
            if not model or not prefixes:
                continue
            values = []
            for prefix in prefixes:
                value = metric_of(results, f"{prefix.rstrip('/')}/{ours}", model)
                if value is None:
                    raise FileNotFoundError(f"no result for {prefix}{ours} of model {model!r}")
                values.append(value[0])
            means[arm] = sum(values) / len(values)
        delta = means["on"] - means["off"] if len(means) == 2 else None
        out.append({
            "metric": paper_metric, "our metric": ours, "tasks": len(prefixes),
            "on": mean_std(means["on"], None) if "on" in means else NOT_RUN,
            "off": mean_std(means["off"], None) if "off" in means else NOT_RUN,
            "gain": mean_std(delta, None) if delta is not None else NOT_RUN,
            "gain (paper)": mean_std(paper[paper_metric], None) if paper_metric in paper else NO_VALUE,
        })
    return pd.DataFrame(out)
