import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import friedmanchisquare, studentized_range, wilcoxon

from pathfm.stats import (average_ranks, bootstrap_wilcoxon_vs_reference, cd_diagram,
                          friedman_test, nemenyi_cd, rank_table, task_ranks,
                          wilcoxon_vs_reference)
from pathfm.stats.critical_difference import cliques


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.9, size=(12, 1))
    return pd.DataFrame(base + np.array([0.05, 0.02, 0.0, -0.03]) + rng.normal(0, 0.01, (12, 4)),
                        index=[f"t{i}" for i in range(12)], columns=["a", "b", "c", "d"])


def test_ranks_by_hand_with_ties():
    s = pd.DataFrame({"a": [0.9, 0.5], "b": [0.8, 0.7], "c": [0.8, 0.6]}, index=["t1", "t2"])
    r = task_ranks(s)
    assert r.loc["t1"].tolist() == [1.0, 2.5, 2.5]
    assert r.loc["t2"].tolist() == [3.0, 1.0, 2.0]
    assert average_ranks(s).to_dict() == {"b": 1.75, "a": 2.0, "c": 2.25}
    t = rank_table(s)
    assert t.loc["a", "n_first"] == 1 and t.index[0] == "b"
    assert task_ranks(s, higher_is_better=False).loc["t1"].tolist() == [3.0, 1.5, 1.5]


def test_missing_cell_is_a_clear_error():
    s = pd.DataFrame({"a": [0.9, np.nan], "b": [0.8, 0.7]}, index=["t1", "t2"])
    with pytest.raises(ValueError, match="t2"):
        task_ranks(s)


def test_friedman_matches_scipy(scores):
    out = friedman_test(scores)
    ref = friedmanchisquare(*[scores[c] for c in scores.columns])
    assert out["statistic"] == pytest.approx(ref.statistic)
    assert out["pvalue"] == pytest.approx(ref.pvalue)
    assert out["pvalue"] < 0.01


def test_wilcoxon_matches_scipy(scores):
    out = wilcoxon_vs_reference(scores, "a").set_index("model")
    for m in ["b", "c", "d"]:
        ref = wilcoxon(scores[m] - scores["a"])
        assert out.loc[m, "pvalue"] == pytest.approx(ref.pvalue)
        assert out.loc[m, "statistic"] == pytest.approx(ref.statistic)
        assert out.loc[m, "mean_diff"] < 0
    # Holm: smallest p times 3, monotone.
    p = out["pvalue"].sort_values()
    assert out.loc[p.index[0], "pvalue_holm"] == pytest.approx(min(1, 3 * p.iloc[0]))


def test_bootstrap_variant_is_labelled_and_pools(scores):
    rng = np.random.default_rng(1)
    reps = {t: {"a": rng.normal(0.8, 0.01, 50), "b": rng.normal(0.79, 0.01, 50)} for t in "xyz"}
    out = bootstrap_wilcoxon_vs_reference(reps, "a")
    assert out.loc[0, "n_pairs"] == 150 and "inflates" in out.loc[0, "test"]
    d = np.concatenate([reps[t]["b"] - reps[t]["a"] for t in "xyz"])
    assert out.loc[0, "pvalue"] == pytest.approx(wilcoxon(d).pvalue)


def test_nemenyi_cd_formula_and_demsar_table():
    for k, n in [(4, 12), (7, 39), (10, 5)]:
        q = studentized_range.ppf(0.95, k, np.inf) / math.sqrt(2)
        assert nemenyi_cd(k, n) == pytest.approx(q * math.sqrt(k * (k + 1) / (6 * n)))
    # Demšar (2006) Table 5(a): q_0.05 for k = 4 is 2.569, k = 10 is 3.164.
    assert nemenyi_cd(4, 6) == pytest.approx(2.569 * math.sqrt(20 / 36), abs=2e-3)
    assert nemenyi_cd(10, 1) == pytest.approx(3.164 * math.sqrt(110 / 6), abs=5e-3)


def test_cliques_and_diagram(tmp_path):
    r = pd.Series({"a": 1.2, "b": 1.9, "c": 3.4, "d": 3.5})
    assert cliques(r, 1.0) == [["a", "b"], ["c", "d"]]
    paths = [tmp_path / "cd.png", tmp_path / "cd.svg"]
    cd_diagram(r, 1.0, paths, title="toy")
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in paths[1].read_bytes()[:500]
