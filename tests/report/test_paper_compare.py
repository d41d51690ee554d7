"""Our cells beside the paper's: values from result files, 'not run' where not configured."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pathfm.bench.result import write_result
from pathfm.report.paper_compare import NOT_RUN, comparison_table, index_results
from pathfm.report.paper_distillation import distillation_table
from pathfm.report.runtime import summarize_runtime


def _result(tmp_path, benchmark, task, model, runs):
    path = tmp_path / benchmark / task / f"{model}.json"
    write_result(path, benchmark=benchmark, task=task, model=model, protocol="eva", settings={}, provenance={},
                 runs={"balanced_accuracy": runs, "test_auroc": runs}, seeds=[0])
    return path


@pytest.fixture
def results(tmp_path):
    paths = [_result(tmp_path, "linear_probe-eva", "crc", "a", [0.5, 0.7]),
             _result(tmp_path, "linear_probe-eva", "bach", "a", [0.2, 0.4]),
             _result(tmp_path, "linear_probe-eva", "crc", "b", [0.9, 0.9]),
             _result(tmp_path, "linear_probe-eva", "bach", "b", [0.1, 0.1])]
    return index_results(paths)


PUBLISHED = pd.DataFrame({"model": ["P1", "P2"], "BACH": [0.8, 0.7], "CRC": [0.95, None],
                          "MHIST": [0.8, 0.81], "Avg": [0.85, 0.75], "source": ["T1", "T1"]})


def test_cells_side_by_side(results):
    spec = {"rows": [{"label": "a", "model": "a", "published": "P1"},
                     {"label": "P2", "model": None, "published": "P2"}],
            "cells": {"BACH": "linear_probe-eva/bach/balanced_accuracy",
                      "CRC": "linear_probe-eva/crc/balanced_accuracy", "MHIST": None},
            "average": {"column": "Avg", "of": ["BACH", "CRC"]}}
    table = comparison_table(results, PUBLISHED, spec, {"a": "cls, 224 px"}).set_index("model")
    assert table.loc["a", "BACH"] == "0.300" and table.loc["a", "BACH (paper)"] == "0.800"
    assert table.loc["a", "CRC"] == "0.600" and table.loc["a", "MHIST"] == NOT_RUN
    assert table.loc["a", "Avg"] == "0.450" and table.loc["a", "contract"] == "cls, 224 px"
    assert table.loc["P2", "BACH"] == NOT_RUN and table.loc["P2", "CRC (paper)"] == "—"


def test_average_needs_every_column(results):
    spec = {"rows": [{"label": "a", "model": "a", "published": None}],
            "cells": {"BACH": "linear_probe-eva/bach/balanced_accuracy"},
            "average": {"column": "Avg", "of": ["BACH", "MHIST"]}}
    assert comparison_table(results, PUBLISHED, spec).loc[0, "Avg"] == NOT_RUN


def test_std_cells_and_unknown_row(results):
    pub = pd.DataFrame({"model": ["P1"], "CRC_mean": [0.9], "CRC_std": [0.01], "source": ["T8"]})
    spec = {"rows": [{"label": "a", "model": "a", "published": "P1"}], "std": True,
            "cells": {"CRC": "linear_probe-eva/crc/balanced_accuracy"}}
    row = comparison_table(results, pub, spec).iloc[0]
    assert row["CRC"] == "0.600 (0.100)" and row["CRC (paper)"] == "0.900 (0.010)"
    with pytest.raises(KeyError, match="not in the published table"):
        comparison_table(results, pub, {**spec, "rows": [{"label": "a", "model": "a",
                                                          "published": "nope"}]})


def test_missing_result_fails(results):
    spec = {"rows": [{"label": "c", "model": "c", "published": None}],
            "cells": {"CRC": "linear_probe-eva/crc/balanced_accuracy"}}
    with pytest.raises(FileNotFoundError):
        comparison_table(results, PUBLISHED, spec)


def test_distillation_gain(results):
    pub = pd.DataFrame({"metric": ["balanced_accuracy"], "delta": [0.018], "source": ["F8"]})
    spec = {"rows": [{"label": "on", "model": "b"}, {"label": "off", "model": "a"}],
            "cells": {"CRC": "linear_probe-eva/crc", "BACH": "linear_probe-eva/bach"},
            "metrics": {"balanced_accuracy": "balanced_accuracy", "auc": "test_auroc"}}
    table = distillation_table(results, pub, spec).set_index("metric")
    assert table.loc["balanced_accuracy", "gain"] == "0.050"  # (0.9+0.1)/2 - (0.6+0.3)/2
    assert table.loc["balanced_accuracy", "gain (paper)"] == "0.018"
    assert table.loc["auc", "gain (paper)"] == "—"
    off = {**spec, "rows": [{"label": "on", "model": "b"}, {"label": "off", "model": None}]}
    assert distillation_table(results, pub, off).loc[0, "gain"] == NOT_RUN


def test_runtime_summary(tmp_path):
    for rule, name, s in (("embed", "a", 2.0), ("embed", "b", 4.0), ("tiles", "x", 1.5)):
        path = tmp_path / rule / f"{name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("s\th:m:s\tmax_rss\n" + f"{s}\t0:00:0{int(s)}\t10\n")
    summary = summarize_runtime(tmp_path)
    assert list(summary) == ["embed", "tiles"]
    assert summary["embed"] == {"jobs": 2, "total_s": 6.0, "max_s": 4.0, "mean_s": 3.0}
    json.dumps(summary)


def test_html_table_escapes_and_keeps_cells():
    from pathfm.report.tables import to_html

    html = to_html(pd.DataFrame({"model": ["a<b"], "CRC": ["0.600 (0.100)"]}), caption="T & U")
    assert "<td>a&lt;b</td>" in html and "<td>0.600 (0.100)</td>" in html
    assert "<p>T &amp; U</p>" in html and html.count("<tr>") == 2
