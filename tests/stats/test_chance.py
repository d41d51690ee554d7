import pandas as pd
import pytest

from pathfm.stats.chance import chance_level, chance_table, family_summary


def _res(benchmark, metrics, protocol="eva", settings=None, details=None, task="t", model="m"):
    return {"benchmark": benchmark, "task": task, "model": model, "details": details or {},
            "protocol": {"name": protocol, "settings": settings or {}},
            "metrics": {k: {"mean": v, "std": 0.0, "runs": [v]} for k, v in metrics.items()}}


def test_chance_levels_by_hand():
    cls = _res("slide_classification-eva", {}, details={"n_classes": 4})
    assert chance_level(cls, "auc") == 0.5 and chance_level(cls, "balanced_accuracy") == 0.25
    assert chance_level(cls, "weighted_f1") is None
    assert chance_level(_res("survival-abmil_cox", {}), "c_index") == 0.5
    assert chance_level(_res("segmentation", {}), "dice_mean") == 0.0
    gpfm = _res("retrieval-gpfm", {}, protocol="gpfm", settings={"classes": list("abcdef")})
    assert chance_level(gpfm, "top1_acc") == pytest.approx(1 / 6)
    assert chance_level(gpfm, "top5_acc") == pytest.approx(5 / 6)
    plain = _res("retrieval-plain", {}, protocol="plain")
    train, query = {"a": 0.75, "b": 0.25}, {"a": 0.5, "b": 0.5}
    # top-1: 0.5·0.75 + 0.5·0.25; top-2: 0.5·(1 − 0.25²) + 0.5·(1 − 0.75²); majority: 0.5.
    assert chance_level(plain, "top1_acc", (train, query)) == pytest.approx(0.5)
    assert chance_level(plain, "top2_acc", (train, query)) == pytest.approx(0.5 * 0.9375 + 0.5 * 0.4375)
    assert chance_level(plain, "mv5_acc", (train, query)) == 0.5
    assert chance_level(plain, "top1_acc") is None


def test_table_summary_and_runtimes(tmp_path):
    rt = tmp_path / "runtime" / "slide_classification" / "eva" / "t"
    rt.mkdir(parents=True)
    pd.DataFrame({"s": [12.5], "cpu_time": [10.0]}).to_csv(rt / "m.tsv", sep="\t", index=False)
    results = [_res("slide_classification-eva", {"auc": 0.8, "balanced_accuracy": 0.5, "accuracy": 0.6},
                    details={"n_classes": 2}),
               _res("survival-abmil_cox", {"c_index": 0.61}),
               _res("linear_probe-eva", {"balanced_accuracy": 0.9})]
    table = chance_table(results, tmp_path / "runtime")
    assert set(table["family"]) == {"slide_classification", "survival"}
    row = table.set_index("metric").loc["balanced_accuracy"]
    assert row["chance"] == 0.5 and not row["above"] and row["runtime_s"] == 12.5
    s = family_summary(table).set_index("family")
    assert s.loc["slide_classification", "scores_judged"] == 2 and s.loc["slide_classification", "above_chance"] == 1
    assert s.loc["slide_classification", "runtime_s_total"] == 12.5 and s.loc["survival", "runtime_s_total"] is None
    assert s.loc["survival", "min_margin"] == pytest.approx(0.11)
