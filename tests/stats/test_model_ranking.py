from pathlib import Path

import pandas as pd
import pytest

from pathfm.bench.result import write_result
from pathfm.commands.rank_models import main
from pathfm.stats.model_ranking import rank_models, score_table


# Three models over three scores from two benchmarks; m1 wins everywhere, m3 loses everywhere.
SCORES = {("bench-a", "t1", "auc"): {"m1": 0.9, "m2": 0.8, "m3": 0.7},
          ("bench-a", "t2", "auc"): {"m1": 0.8, "m2": 0.6, "m3": 0.5},
          ("bench-b", "t1", "c_index"): {"m1": 0.7, "m2": 0.65, "m3": 0.6}}


def _results():
    out = []
    for (b, t, metric), by_model in SCORES.items():
        for m, v in by_model.items():
            out.append({"benchmark": b, "task": t, "model": m,
                        "metrics": {metric: {"mean": v, "std": 0.0, "runs": [v]}, "other": {"mean": 0.0}}})
    return out


def test_score_table_reads_named_entries_only():
    scores = score_table(_results(), [("bench-a", "t2", "auc"), ("bench-b", "t1", "c_index")])
    assert list(scores.index) == ["bench-a/t2/auc", "bench-b/t1/c_index"]
    assert scores.loc["bench-a/t2/auc", "m2"] == 0.6
    with pytest.raises(ValueError, match="no result provides"):
        score_table(_results(), [("bench-c", "t1", "auc")])
    with pytest.raises(ValueError, match="no metric 'dice'"):
        score_table(_results(), [("bench-a", "t1", "dice")])


def test_rank_models_by_hand(tmp_path):
    table, scores = rank_models(_results(), list(SCORES), figures=[tmp_path / "cd.png"])
    assert list(table.index) == ["m1", "m2", "m3"]
    assert table["average_rank"].tolist() == [1.0, 2.0, 3.0]
    assert table["n_first"].tolist() == [3, 0, 0]
    assert (table["reference"] == "m1").all() and pd.isna(table.loc["m1", "wilcoxon_p_vs_ref"])
    assert (tmp_path / "cd.png").stat().st_size > 0


def test_rank_script_writes_table_formats(tmp_path):
    paths = []
    for r in _results():
        p = tmp_path / "bench" / r["benchmark"] / r["task"] / f"{r['model']}.json"
        write_result(p, benchmark=r["benchmark"], task=r["task"], model=r["model"], protocol="x", settings={},
                     runs={k: [v["mean"]] for k, v in r["metrics"].items()}, seeds=[0], provenance={})
        paths.append(str(p))
    stem = tmp_path / "tables" / "rank"
    args = ["--results", *paths, "--table", str(stem), "--figures", str(tmp_path / "f.svg"),
            "--alpha", "0.05"]
    for b, t, m in SCORES:
        args += ["--entry", f"{b}/{t}/{m}"]
    assert main(args) == 0
    csv = pd.read_csv(f"{stem}.csv")
    assert csv["model"].tolist() == ["m1", "m2", "m3"]
    assert "average_rank" in Path(f"{stem}.md").read_text() and "tabular" in Path(f"{stem}.tex").read_text()
    with pytest.raises(SystemExit):
        main(["--results", *paths, "--table", str(stem), "--figures", "x.png", "--alpha", "0.05",
              "--entry", "bad"])
