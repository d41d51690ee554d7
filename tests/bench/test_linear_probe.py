"""Linear probing: balanced accuracy against scikit-learn, protocols, splits, seeds."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from pathfm.bench.linear_probe import PROTOCOLS, eva_splits, get_protocol, linear_probe
from pathfm.bench.metrics import balanced_accuracy, classification_metrics
from pathfm.bench.result import read_result, write_result
from pathfm.bench.tp53 import patient_folds, tp53_benchmark


@pytest.mark.parametrize("seed", range(4))
def test_balanced_accuracy_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 5, 200))
    assert balanced_accuracy(y, p) == pytest.approx(balanced_accuracy_score(y, p), abs=1e-6)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_balanced_accuracy_with_a_class_only_predicted_matches_sklearn():
    y = np.array([0, 0, 0, 2, 2, 2, 2])  # class 1 absent from the truth, predicted once
    p = np.array([0, 1, 0, 2, 2, 0, 2])
    assert balanced_accuracy(y, p) == pytest.approx(balanced_accuracy_score(y, p), abs=1e-6)
    assert balanced_accuracy(y, p) == pytest.approx((2 / 3 + 3 / 4) / 2, abs=1e-12)


def test_metrics_from_scores():
    y = np.array([0, 0, 1, 1, 2])
    s = np.eye(3)[[0, 1, 1, 1, 2]]
    m = classification_metrics(y, s)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert m["accuracy"] == pytest.approx(0.8)


def test_protocol_settings_resolve():
    k = get_protocol("kaiko2024").resolve(268, "bach")
    assert (k["batch"], k["lr_resolved"]) == (256, pytest.approx(6.25e-4))
    assert get_protocol("kaiko2024").resolve(100_000, "crc")["lr_resolved"] == pytest.approx(0.01)
    e = get_protocol("eva").resolve(100_000, "crc")
    assert (e["batch"], e["lr_resolved"], e["patience_resolved"], e["optimizer"]) == (256, 3e-4, 7, "adamw")
    assert PROTOCOLS["kaiko2024_epoch_cosine"].scheduler_interval == "epoch"
    with pytest.raises(KeyError, match="unknown"):
        get_protocol("eva", {"lrr": 1})


def test_eva_split_fallbacks():
    idx = eva_splits(np.array(["train", "test", "train"]))
    assert list(idx["val"]) == list(idx["test"]) == [1]
    idx = eva_splits(np.array(["train", "val"]))
    assert list(idx["test"]) == [1]


def _blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 8)) + 3 * np.eye(3, 8)[y]
    return x.astype(np.float32), y


def test_probe_learns_and_is_seeded():
    x, y = _blobs(300, 0)
    split = np.array(["train"] * 200 + ["val"] * 50 + ["test"] * 50)
    proto = get_protocol("eva", {"max_steps": 150, "n_runs": 2, "lr": 0.05})
    a = linear_probe(x, y, split, proto, "toy", seed=3)
    b = linear_probe(x, y, split, proto, "toy", seed=3)
    assert a["seeds"] == [3, 4]
    assert a["runs"] == b["runs"]
    assert min(a["runs"]["balanced_accuracy"]) > 0.85
    shuffled = linear_probe(x, np.random.default_rng(1).permutation(y), split, proto, "toy")
    assert np.mean(shuffled["runs"]["balanced_accuracy"]) < 0.6


def test_tp53_folds_group_patients_and_learn(tmp_path):
    rng = np.random.default_rng(0)
    patients = np.repeat([f"P{i}" for i in range(20)], 10)
    label_of = {p: i % 2 for i, p in enumerate(np.unique(patients))}
    y = np.array([label_of[p] for p in patients])
    x = rng.normal(size=(200, 6)).astype(np.float32) + 2.0 * y[:, None]
    fold = patient_folds(y, patients, 5, seed=0)
    for p in np.unique(patients):
        assert len(set(fold[patients == p])) == 1
    res = tp53_benchmark(x, y, patients, get_protocol("eva", {"max_steps": 100, "lr": 0.05}), n_folds=5)
    assert len(res["runs"]["balanced_accuracy"]) == 5 and np.mean(res["runs"]["balanced_accuracy"]) > 0.8
    out = write_result(tmp_path / "r.json", benchmark="tp53", task="tp53", model="m", protocol="eva",
                       settings=res["settings"], runs=res["runs"], seeds=res["seeds"], provenance={})
    back = read_result(tmp_path / "r.json")
    assert back["metrics"]["balanced_accuracy"]["mean"] == pytest.approx(np.mean(res["runs"]["balanced_accuracy"]))
    assert back["seeds"] == out["seeds"] == [0, 1, 2, 3, 4]
