import numpy as np
import pytest

from pathfm.bench.retrieval import expected_hits, gpfm_retrieval, gpfm_votes, plain_retrieval


def test_votes_by_hand():
    v = gpfm_votes(np.array([[2, 0, 2]]), 3)
    assert v.tolist() == [[0.9, 0.0, 1.8]]


def test_expected_hits_with_ties():
    votes = np.array([[1.0, 0.0, 0.0, 0.0]] * 2)
    # Class 0 leads: hit@1. Class 2 ties with 2 others behind one leader: P(hit@1)=0, @3 = 2/3.
    assert expected_hits(votes, np.array([0, 2]), 1).tolist() == [1.0, 0.0]
    assert expected_hits(votes, np.array([0, 2]), 3) == pytest.approx([1.0, 2 / 3])


def test_gpfm_retrieval_hand_checked_toy():
    # 1-D features, three classes at 0, 10, 20; training std is used for z-scoring.
    train_x = np.array([[0.0], [1.0], [10.0], [11.0], [20.0], [21.0]])
    train_y = np.array([0, 0, 1, 1, 2, 2])
    query_x = np.array([[0.4], [10.6], [15.4]])
    query_y = np.array([0, 1, 2])
    out = gpfm_retrieval(train_x, train_y, query_x, query_y, top_k=(1, 3), n_bootstrap=20)
    # Query 0: neighbours 0, 0, 1 -> votes [1.9, 0.8, 0]: hit@1.
    # Query 1: neighbours 1, 1, 0 -> hit@1. Query 2 at 15.4: neighbours 11 (cls 1, d 4.4),
    # 10 (cls 1, d 5.4), 20 (cls 2, d 4.6) -> order 1, 2, 1: votes [0, 1.8, 0.9]: miss@1.
    assert out["top1_acc"] == pytest.approx(2 / 3)
    assert out["top3_acc"] == pytest.approx(1.0)
    assert out["top1_acc_bootstrap"].shape == (20,)
    with pytest.raises(ValueError, match="top-5"):
        gpfm_retrieval(train_x, train_y, query_x, query_y, top_k=(5,))


def test_plain_retrieval_by_hand():
    train_x = np.array([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 0.9], [0.7, 0.7]])
    train_y = np.array([0, 0, 1, 1, 1])
    query_x = np.array([[1.0, 0.05], [0.6, 0.8]])
    out = plain_retrieval(train_x, train_y, query_x, np.array([1, 1]), top_k=(1, 3), majority_k=3)
    # Query 0 nearest: 0, 1, then (0.7,0.7) cls 1 -> top1 miss, top3 hit, mv -> 0 (miss).
    # Query 1 nearest: (0.7,0.7), (0.1,0.9)... all class 1 -> hits everywhere.
    assert out == {"top1_acc": 0.5, "top3_acc": 1.0, "mv3_acc": 0.5}
