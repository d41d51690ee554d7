"""PLISM top-k with exactly tied similarities (duplicated tiles) and near-duplicates: the
chunked ranks are the same for every chunk size and equal a tie-tolerant float64 oracle
written plainly here (numpy broadcasting over the whole stacked (2n)² matrix)."""

from __future__ import annotations

import numpy as np
import pytest

from pathfm.bench.plism import (
    PlismMetricSettings,
    dense_match_ranks,
    match_ranks,
    pair_metrics,
    topk_from_ranks,
)

CHUNKS = (1, 7, 64, 1024)
KS = (1, 3, 5, 10)
RULES = ("strict", "pessimistic", "upstream")
# The oracle calls two float64 cosines tied when they agree to 1e-12; `tied_pair` is
# checked to hold no gap between that and 1e-10, so the data has one reading only.
ORACLE_TOL, GENUINE_GAP = 1e-12, 1e-10


def tied_pair(seed: int = 0, d: int = 40, n: int = 180) -> tuple[np.ndarray, np.ndarray]:
    """Two "conditions" of n ≥ 180 tiles, with what real slides hold: duplicated tiles."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d)) + 0.3
    b = a + 1.5 * rng.normal(size=(n, d))
    a[10:22] = a[10]                    # background: 12 copies, identical on both slides
    b[10:22] = a[10]
    a[30:38] = a[30]                    # pen mark: 8 copies, the condition changes them
    b[30:38] = b[30]
    for src, dst in [(40, 41), (42, 95), (43, 150), (44, 179), (45, 46), (47, 120)]:
        a[dst], b[dst] = a[src], b[src]  # repeated crops, scattered across chunks
    b[60] = a[60]                       # a tile the condition leaves unchanged, twice
    a[61] = b[61] = a[60]
    a[70] = a[71]                       # duplicated on one slide only
    b[80] = a[81]                       # a B tile equal to a foreign A tile
    b[130:134] = b[100:104]             # a repeated block on B
    eps = 3e-5                          # near-duplicates: distinct, cosine gaps of
    for src, dst in [(110, 111), (112, 160), (114, 115)]:  # 1e-7..3e-6 (float32 noise)
        a[dst] = a[src] + eps * rng.normal(size=d)
        b[dst] = b[src] + eps * rng.normal(size=d)
    return a.astype(np.float32), b.astype(np.float32)


def oracle_ranks(a: np.ndarray, b: np.ndarray, rule: str, dtype=np.float32
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each query's match, from the stacked (2n)² cosine matrix in float64.

    strict: candidates (query and match excluded) more similar than the match by more
    than the tolerance; pessimistic: also those tied with it; upstream: the query is a
    candidate, ties go to the lower stacked index, and the first position is dropped.
    """
    x = np.concatenate([a, b]).astype(dtype).astype(np.float64)
    n2 = len(x)
    n = n2 // 2
    s = (x[:, None, :] * x[None, :, :]).sum(-1)
    norms = np.sqrt((x * x).sum(-1))
    s = s / (norms[:, None] * norms[None, :])
    q = np.arange(n2)
    match = np.concatenate([q[n:], q[:n]])
    m = s[q, match][:, None]
    gap = np.abs(s - m)
    assert not ((gap > ORACLE_TOL) & (gap < GENUINE_GAP)).any(), "ambiguous test data"
    ahead, tied = s > m + ORACLE_TOL, gap <= ORACLE_TOL
    idx = q[None, :]
    is_self, is_match = idx == q[:, None], idx == match[:, None]
    if rule == "strict":
        counted = ahead & ~is_self & ~is_match
    elif rule == "pessimistic":
        counted = (ahead | tied) & ~is_self & ~is_match
    else:
        counted = (ahead | (tied & (idx < match[:, None]))) & ~is_match
    rank = counted.sum(1) - int(rule == "upstream")
    return rank[:n], rank[n:]


def test_data_has_exact_ties_and_near_ties():
    a, b = tied_pair()
    x = np.concatenate([a, b]).astype(np.float64)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = xn @ xn.T
    n = len(a)
    m = np.concatenate([np.diag(s[:n, n:]), np.diag(s[n:, :n])])[:, None]
    gap = np.abs(s - m)
    np.fill_diagonal(gap, np.inf)
    gap[np.arange(2 * n), np.r_[np.arange(n, 2 * n), np.arange(n)]] = np.inf
    assert (gap < ORACLE_TOL).sum() > 200            # many exact ties with the match
    near = (gap > GENUINE_GAP) & (gap < 1e-6)
    assert near.sum() >= 6                           # and distinct ones a hair apart


@pytest.mark.parametrize("rule", RULES)
def test_topk_same_for_every_chunk_and_equals_oracle(rule):
    a, b = tied_pair()
    want_a, want_b = oracle_ranks(a, b, rule)
    want = topk_from_ranks(want_a, want_b, KS)
    for chunk in CHUNKS:
        settings = PlismMetricSettings(dtype="float32", rank_rule=rule, chunk=chunk,
                                       device="cpu")
        ra, rb, _ = match_ranks(a, b, settings)
        np.testing.assert_array_equal(ra, want_a, err_msg=f"A→B, chunk {chunk}")
        np.testing.assert_array_equal(rb, want_b, err_msg=f"B→A, chunk {chunk}")
        got = pair_metrics(a, b, settings)
        assert {k: got[k] for k in want} == want, chunk
    da, db, _ = dense_match_ranks(a, b, PlismMetricSettings(dtype="float32", rank_rule=rule,
                                                            device="cpu"))
    np.testing.assert_array_equal(da, want_a)
    np.testing.assert_array_equal(db, want_b)


@pytest.mark.parametrize("seed", [1, 2])
def test_float16_default_equals_oracle_on_the_cast_features(seed):
    """The default settings (float16 cast, strict) at several chunks, other random draws."""
    a, b = tied_pair(seed, d=64)
    a, b = a * 7.0, b * 7.0             # unnormalised, as model features are
    want_a, want_b = oracle_ranks(a, b, "strict", dtype=np.float16)
    for chunk in CHUNKS:
        ra, rb, _ = match_ranks(a, b, PlismMetricSettings(chunk=chunk, device="cpu"))
        np.testing.assert_array_equal(ra, want_a, err_msg=f"chunk {chunk}")
        np.testing.assert_array_equal(rb, want_b, err_msg=f"chunk {chunk}")


def test_tie_rules_bracket_the_match():
    """strict counts no tie against the match, pessimistic counts every one; both agree
    wherever the match has no tie. A tile duplicated 12 times and unchanged by the
    condition is a hit for strict and a miss at k ≤ 10 for pessimistic."""
    a, b = tied_pair()
    s = PlismMetricSettings(dtype="float32", rank_rule="strict", chunk=64, device="cpu")
    p = PlismMetricSettings(dtype="float32", rank_rule="pessimistic", chunk=64, device="cpu")
    sa, sb, _ = match_ranks(a, b, s)
    pa, pb, _ = match_ranks(a, b, p)
    assert (pa >= sa).all() and (pb >= sb).all()
    assert (sa[10:22] == 0).all() and (sb[10:22] == 0).all()
    assert (pa[10:22] == 22).all() and (pb[10:22] == 22).all()  # 11 copies on each slide
    untied = np.r_[0:10, 22:30, 48:60, 62:70, 82:95, 96:100]
    np.testing.assert_array_equal(sa[untied], pa[untied])


def test_identical_slides_under_each_rule():
    a, _ = tied_pair()
    got = {rule: pair_metrics(a, a.copy(), PlismMetricSettings(dtype="float32", rank_rule=rule,
                                                               chunk=7, device="cpu"))
           for rule in RULES}
    assert all(got["strict"][f"top_{k}_accuracy"] == 1.0 for k in KS)
    assert got["pessimistic"]["top_1_accuracy"] < 1.0  # a duplicated tile's copies tie
    # upstream is not 0.5 here: a duplicate's lower-index copies move its match down
    # (A→B) or into the kept positions (B→A)
    assert all(got["upstream"][f"top_{k}_accuracy"] != 0.5 for k in KS)
    for rule in RULES:
        want = topk_from_ranks(*oracle_ranks(a, a.copy(), rule), KS)
        assert {k: got[rule][k] for k in want} == want, rule
