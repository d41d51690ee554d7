import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from pathfm.bench.abmil import ABMIL, pad_bags
from pathfm.bench.slide import get_protocol, run_slide_classification
from pathfm.bench.slide_metrics import slide_classification_metrics, softmax
from pathfm.bench.result import read_result, write_result
from pathfm.bench.runs import runs_by_metric
from pathfm.bench.splits import grouped_kfold


def test_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    logits = rng.normal(size=(60, 3)) + 1.5 * np.eye(3)[y]
    m = slide_classification_metrics(y, logits)
    p = softmax(logits)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p.argmax(1)))
    assert m["weighted_f1"] == pytest.approx(f1_score(y, p.argmax(1), average="weighted"))
    yb = (y > 0).astype(int)
    lb = np.stack([np.zeros(60), logits[:, 1]], 1)
    assert slide_classification_metrics(yb, lb)["auc"] == pytest.approx(
        roc_auc_score(yb, softmax(lb)[:, 1]))


def test_padding_does_not_change_the_output():
    torch.manual_seed(0)
    model = ABMIL(8, 2).eval()
    a, b = torch.randn(5, 8), torch.randn(9, 8)
    x, m = pad_bags([a, b])
    both = model(x, m)
    assert torch.allclose(both[0], model(a[None])[0], atol=1e-6)
    assert torch.allclose(both[1], model(b[None])[0], atol=1e-6)


def toy_bags(n: int, seed: int):
    """Positive bags hide a few 'tumour' tiles (shifted along one direction) among many normal."""
    rng = np.random.default_rng(seed)
    bags, labels = [], []
    for i in range(n):
        y = i % 2
        bag = rng.normal(size=(int(rng.integers(20, 40)), 16)).astype(np.float32)
        if y:
            bag[: int(rng.integers(3, 6)), :4] += 3.0
        bags.append(bag)
        labels.append(y)
    return bags, np.array(labels)


def test_abmil_learns_a_toy_bag_task():
    bags, y = toy_bags(36, 0)
    protocol = get_protocol("gpfm", max_epochs=25, patience=8, batch_size=8, max_tiles=64)
    protocol.n_folds = 3
    out = run_slide_classification(bags, y, np.arange(36), protocol, seeds=[7])
    bal = [r["balanced_accuracy"] for r in out["runs"]]
    assert len(bal) == 3 and np.mean(bal) > 0.85
    assert out["seeds"] == [7, 8, 9]


def test_grouped_kfold_keeps_patients_together():
    y = np.array([0, 1] * 10)
    groups = np.repeat(np.arange(10), 2)
    for tr, te in grouped_kfold(y, groups, 5, 0):
        assert not set(groups[tr]) & set(groups[te])


def test_result_roundtrip_skips_undefined_runs(tmp_path):
    runs, skipped = runs_by_metric([{"auc": 0.8, "f1": 0.5}, {"auc": 0.9, "f1": 0.7},
                                    {"auc": float("nan"), "f1": 0.6}, {"f1": float("nan")}])
    assert runs == {"auc": [0.8, 0.9], "f1": [0.5, 0.7, 0.6]}
    assert skipped == {"auc": [2, 3], "f1": [3]}
    assert runs_by_metric([{"auc": float("nan")}]) == ({}, {"auc": [0]})
    write_result(tmp_path / "r.json", benchmark="slide_classification-eva", task="toy", model="m",
                 protocol="eva", settings={"lr": 1e-3}, runs=runs, seeds=[1, 2, 3, 4],
                 provenance={"embeddings": "x.zarr"}, skipped_runs=skipped)
    back = read_result(tmp_path / "r.json")
    assert back["metrics"]["auc"]["mean"] == pytest.approx(0.85)
    assert back["protocol"]["name"] == "eva" and back["skipped_runs"]["auc"] == [2, 3]
    assert back["provenance"]["embeddings"] == "x.zarr" and "code_version" in back["provenance"]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        read_result(tmp_path / "bad.json")
