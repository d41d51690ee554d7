"""Linear probing: balanced accuracy against scikit-learn, protocols, splits, seeds."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

import torch

from pathfm.bench.linear_probe import PROTOCOLS, eva_splits, get_protocol, linear_probe, train_probe
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


@pytest.mark.parametrize("task,n_train,published", [
    ("crc", 100_000, 26), ("pcam", 262_144, 10), ("bach", 268, 625), ("mhist", 2_175, 78)])
def test_kaiko_patience_is_max_epochs_over_20_as_published(task, n_train, published):
    # kaiko Table VI, "[Max epochs] / 20", with the paper's published values.
    assert get_protocol("kaiko2024").resolve(n_train, task)["patience_resolved"] == published
    assert get_protocol("kaiko2024_epoch_cosine").resolve(n_train, task)["patience_resolved"] == published


def test_kaiko_eva_configs_reading_is_its_own_protocol():
    p = get_protocol("kaiko2024_eva_configs")
    assert (p.nesterov, p.scheduler_interval) == (False, "epoch")
    assert {t: p.resolve(n, t)["patience_resolved"] for t, n in
            [("bach", 268), ("crc", 100_000), ("mhist", 2_175), ("pcam", 262_144)]} == {
        "bach": 400, "crc": 24, "mhist": 51, "pcam": 9}
    assert get_protocol("kaiko2024").nesterov is True  # the paper's Table VI
    with pytest.raises(ValueError, match="patience_rule"):
        get_protocol("eva", {"patience_rule": "max_epochs"})


def _settings(name, n_train, **over):
    return get_protocol(name, over).resolve(n_train, "toy")


def test_an_epoch_keeps_the_last_incomplete_batch_as_eva():
    # BACH-sized: 268 training samples at batch 256 are 2 steps an epoch, not 1.
    x, y = _blobs(268, 0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    s = _settings("kaiko2024", 268, max_steps=10, patience_rule="table", default_patience=100)
    assert s["batch"] == 256
    assert train_probe(xt, yt, xt, yt, 3, s, seed=0)[2] == 5
    dropped = {**s, "drop_last": True}
    assert train_probe(xt, yt, xt, yt, 3, dropped, seed=0)[2] == 10


def test_the_epoch_cut_short_by_the_step_limit_is_not_validated():
    x, y = _blobs(268, 1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    s = _settings("eva", 268, max_steps=5, default_patience=100)  # 2 steps an epoch
    assert train_probe(xt, yt, xt, yt, 3, s, seed=0)[2] == 2
    assert train_probe(xt, yt, xt, yt, 3, {**s, "validate_partial_epoch": True}, seed=0)[2] == 3


def test_binary_tasks_train_one_logit_with_bce():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    x = (rng.normal(size=(400, 6)) + 2.0 * y[:, None]).astype(np.float32)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    s = _settings("eva", 400, max_steps=60, lr=0.05, default_patience=100)
    head = train_probe(xt, yt, xt, yt, 2, s, seed=0)[0]
    assert head.out_features == 1
    assert train_probe(xt, yt, xt, yt, 2, {**s, "binary_logits": 2}, seed=0)[0].out_features == 2
    # Predicted positive exactly when sigmoid(logit) > 0.5; AUROC from the logit itself.
    split = np.array(["train"] * 300 + ["val"] * 100)
    res = linear_probe(x, y, split, get_protocol("eva", {"max_steps": 60, "lr": 0.05, "n_runs": 1}), "toy")
    assert res["runs"]["val_balanced_accuracy"][0] > 0.85
    assert 0.9 < res["runs"]["val_auroc"][0] <= 1.0


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
