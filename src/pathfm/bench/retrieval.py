"""ROI retrieval from embeddings: GPFM's weighted-vote protocol and plain top-k / majority vote.

``gpfm`` (birkhoffkiki/GPFM 4f8be2b): z-score both sets with the *training*
mean and std (ddof 1); for each query take the k = n_classes nearest training
embeddings by Euclidean distance; neighbour i (0-based) votes for its class with
weight 1 − 0.1·i (negative from the 12th neighbour, as in GPFM); classes are
ranked by their summed vote (GPFM takes a softmax of the votes, which keeps the
order). Top-k hit of a query = its class among the k best-ranked classes.
Classes tied on vote (typically those with no vote at all) are ordered at
random in GPFM; we report the *expected* hit under a uniformly random tie order,
which is deterministic: with g classes strictly ahead of the true class and t
classes tied with it (itself included), P(hit@k) = clip((k − g) / t, 0, 1).
Accuracy is macro (mean over classes of the per-class mean hit), and GPFM
reports the mean over bootstrap resamples of the queries.

``plain``: cosine similarity of L2-normalised embeddings; top-k accuracy = any of
the k nearest neighbours shares the query's class; majority vote at k = the
most frequent class among the k nearest (ties to the nearest) is the query's.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = {
    "gpfm": {"name": "gpfm", "version": "gpfm-4f8be2b-retrieval", "distance": "euclidean",
             "normalise": "zscore_train_ddof1", "k_neighbours": "n_classes",
             "vote_weights": "1 - 0.1 * i", "ties": "expected_over_random_order",
             "top_k": [1, 3, 5], "average": "macro", "n_bootstrap": 1000},
    "plain": {"name": "plain", "version": "plain-knn-1", "distance": "cosine",
              "normalise": "l2", "top_k": [1, 3, 5], "majority_k": 5, "average": "micro"},
}


def zscore(train: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0, ddof=1)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (query - mean) / std


def nearest(train: np.ndarray, query: np.ndarray, k: int, metric: str) -> np.ndarray:
    """(Q, k) indices of the nearest training rows, nearest first (stable on equal distance)."""
    if metric == "euclidean":
        d = ((query ** 2).sum(1)[:, None] - 2.0 * query @ train.T + (train ** 2).sum(1)[None, :])
    elif metric == "cosine":
        tn = train / np.maximum(np.linalg.norm(train, axis=1, keepdims=True), 1e-12)
        qn = query / np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
        d = -(qn @ tn.T)
    else:
        raise ValueError(f"unknown distance {metric!r}")
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def gpfm_votes(neighbour_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(Q, k) neighbour classes -> (Q, C) summed votes with weights 1.0, 0.9, 0.8, …"""
    q, k = neighbour_labels.shape
    w = 1.0 - 0.1 * np.arange(k)
    votes = np.zeros((q, n_classes))
    np.add.at(votes, (np.repeat(np.arange(q), k), neighbour_labels.ravel()), np.tile(w, q))
    return votes


def expected_hits(votes: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """(Q, C) votes, (Q,) true classes -> (Q,) expected top-k hit under random tie order."""
    own = votes[np.arange(len(y)), y][:, None]
    ahead = (votes > own).sum(axis=1)
    tied = (votes == own).sum(axis=1)
    return np.clip((k - ahead) / tied, 0.0, 1.0)


def macro_mean(hits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean([hits[y == c].mean() for c in np.unique(y)]))


def gpfm_retrieval(train_x: np.ndarray, train_y: np.ndarray, query_x: np.ndarray,
                   query_y: np.ndarray, top_k=(1, 3, 5), n_bootstrap: int = 1000,
                   seed: int = 0) -> dict:
    """-> {top{k}_acc: value on all queries, top{k}_acc_bootstrap: (B,) replicates}."""
    n_classes = int(max(train_y.max(), query_y.max())) + 1
    tr, qu = zscore(np.asarray(train_x, float), np.asarray(query_x, float))
    nb = nearest(tr, qu, n_classes, "euclidean")
    votes = gpfm_votes(np.asarray(train_y)[nb], n_classes)
    rng = np.random.default_rng(seed)
    boots = [rng.integers(0, len(query_y), len(query_y)) for _ in range(n_bootstrap)]
    out: dict = {}
    for k in top_k:
        if k > n_classes:
            raise ValueError(f"top-{k} retrieval needs at least {k} classes, the task has {n_classes}")
        hits = expected_hits(votes, np.asarray(query_y), k)
        out[f"top{k}_acc"] = macro_mean(hits, query_y)
        out[f"top{k}_acc_bootstrap"] = np.array([macro_mean(hits[b], query_y[b]) for b in boots])
    return out


def plain_retrieval(train_x: np.ndarray, train_y: np.ndarray, query_x: np.ndarray,
                    query_y: np.ndarray, top_k=(1, 3, 5), majority_k: int = 5) -> dict:
    """-> {top{k}_acc (any hit among k nearest), mv{majority_k}_acc (majority vote)}."""
    kmax = max(max(top_k), majority_k)
    nb_labels = np.asarray(train_y)[nearest(np.asarray(train_x, float),
                                            np.asarray(query_x, float), kmax, "cosine")]
    y = np.asarray(query_y)
    out = {f"top{k}_acc": float(np.mean((nb_labels[:, :k] == y[:, None]).any(axis=1)))
           for k in top_k}
    n_classes = int(max(np.max(train_y), y.max())) + 1
    mv = []
    for row in nb_labels[:, :majority_k]:
        counts = np.bincount(row, minlength=n_classes)
        best = np.flatnonzero(counts == counts.max())
        mv.append(next(c for c in row if c in best))        # tie: the nearest of the tied classes
    out[f"mv{majority_k}_acc"] = float(np.mean(np.array(mv) == y))
    return out
