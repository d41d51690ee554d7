"""Our benchmark results beside a paper's published table, cell by cell.

A *spec* (built by the workflow from config ``tables:``) says which rows and cells a
table has:

- ``rows``: ``[{"label", "model" | None, "published" | None}]`` — one row per model we
  ran (``published`` names the paper's row it stands for) or per paper row we did not
  run (``model`` None: its cells are marked "not run").
- ``cells``: ``{column: "benchmark/task/metric" | None}`` — a paper column and the
  result that fills it; None (or a column of the published CSV absent from ``cells``)
  means the configuration does not run it. Columns not in the published CSV are ours
  alone (e.g. a demo task with no paper counterpart).
- ``average``: optional ``{"column", "of": [columns]}``: our mean over those cells,
  only when every one of them ran (a partial mean would not be the paper's number).
- ``std``: show ``mean (std)`` over runs, published ``{column}_mean/_std`` pairs.

Every number comes from a result JSON or the published CSV; nothing is typed here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from pathfm.bench.result import read_result
from pathfm.report.tables import mean_std

NOT_RUN = "not run"
NO_VALUE = "—"


def index_results(paths: Iterable[str | Path]) -> dict[tuple[str, str, str], dict]:
    """{(benchmark, task, model): result} from result JSONs."""
    out = {}
    for path in paths:
        r = read_result(path)
        out[(r["benchmark"], r["task"], r["model"])] = r
    return out


def parse_cell(ref: str) -> tuple[str, str, str]:
    parts = ref.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"cell reference {ref!r} is not 'benchmark/task/metric'")
    return parts[0], parts[1], parts[2]


def metric_of(results: Mapping, ref: str, model: str) -> tuple[float, float] | None:
    """(mean, std) of a metric, or None when that result is absent."""
    benchmark, task, metric = parse_cell(ref)
    r = results.get((benchmark, task, model))
    if r is None:
        return None
    if metric not in r["metrics"]:
        raise KeyError(f"{benchmark}/{task}/{model}: no metric {metric!r} "
                       f"(has {sorted(r['metrics'])})")
    m = r["metrics"][metric]
    return float(m["mean"]), float(m.get("std", float("nan")))


def _published_value(pub_row: pd.Series | None, column: str, std: bool):
    if pub_row is None:
        return None, None
    if std:
        mean, sd = pub_row.get(f"{column}_mean"), pub_row.get(f"{column}_std")
    else:
        mean, sd = pub_row.get(column), None
    mean = None if mean is None or (isinstance(mean, float) and math.isnan(mean)) else float(mean)
    sd = None if sd is None or (isinstance(sd, float) and math.isnan(sd)) else float(sd)
    return mean, sd


def published_columns(published: pd.DataFrame, std: bool, meta: Iterable[str]) -> list[str]:
    """The paper's value columns, in its order (``X_mean``/``X_std`` pairs give ``X``)."""
    cols = [c for c in published.columns[1:] if c not in set(meta) | {"source"}]
    if not std:
        return cols
    return list(dict.fromkeys(c.rsplit("_", 1)[0] for c in cols if c.endswith(("_mean", "_std"))))


def comparison_table(results: Mapping, published: pd.DataFrame, spec: Mapping,
                     contracts: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per spec row: label, paper row, contract, then ``C`` and ``C (paper)``
    for every column C; ours "not run" where the configuration did not run it."""
    std = bool(spec.get("std", False))
    meta = spec.get("meta_columns", [])
    key = published.columns[0]
    pub_rows = {str(r[key]): r for _, r in published.iterrows()}
    pub_cols = published_columns(published, std, meta)
    cells = dict(spec.get("cells", {}))
    average = spec.get("average")
    columns = pub_cols + [c for c in cells if c not in pub_cols]
    unknown_rows = [r["published"] for r in spec["rows"]
                    if r.get("published") and str(r["published"]) not in pub_rows]
    if unknown_rows:
        raise KeyError(f"rows {unknown_rows} are not in the published table "
                       f"(its rows: {sorted(pub_rows)})")
    out = []
    for row in spec["rows"]:
        model, prow = row.get("model"), row.get("published")
        pub = pub_rows.get(str(prow)) if prow is not None else None
        line = {"model": row["label"], "paper row": prow if prow is not None else NO_VALUE,
                "contract": (contracts or {}).get(model, NO_VALUE) if model else NO_VALUE}
        ours_means = {}
        for col in columns:
            ref = cells.get(col)
            if average and col == average["column"]:
                line[col] = _average_cell(ours_means, average["of"], model)
            elif model is None or not ref:
                line[col] = NOT_RUN
            else:
                value = metric_of(results, ref, model)
                if value is None:
                    raise FileNotFoundError(f"no result for {ref} of model {model!r}")
                ours_means[col] = value[0]
                line[col] = mean_std(value[0], value[1] if std else None)
            if col in pub_cols:
                mean, sd = _published_value(pub, col, std)
                line[f"{col} (paper)"] = mean_std(mean, sd if std else None)
        out.append(line)
    return pd.DataFrame(out)


def _average_cell(ours: Mapping[str, float], of: list[str], model) -> str:
    if model is None or any(c not in ours for c in of):
        return NOT_RUN
    return mean_std(sum(ours[c] for c in of) / len(of), None)


def contract_text(contract) -> str:
    """``cls, 224 px, patch 14, 5 prefix`` from a registry EmbeddingContract."""
    return (f"{contract.pooling}, {contract.input_size} px, patch {contract.patch_size}, "
            f"{contract.prefix_tokens} prefix")
