"""PLISM metrics: the chunked computation equals the dense reference and a plain-numpy
brute force; pair classes; aggregates on a hand-made example."""

from __future__ import annotations

import numpy as np
import pytest

from pathfm.bench.plism import (
    PlismMetricSettings,
    aggregate,
    dense_match_ranks,
    evaluate_pairs,
    leaderboard_score,
    match_ranks,
    pair_class,
    pair_metrics,
    plism_slide_names,
    slide_pairs,
    summarize,
)


def brute_force(a: np.ndarray, b: np.ndarray, ks, rule: str = "strict") -> dict:
    """Loop-per-query definition in float64 numpy, written from the protocol text.

    Integer-valued inputs keep every dot product exact, so float64 here and float32
    in the library order all candidates the same way, ties included.
    """
    x = np.concatenate([a, b]).astype(np.float64)
    n = len(a)
    norms = np.linalg.norm(x, axis=1)
    hits = {k: [0, 0] for k in ks}
    for q in range(2 * n):
        match = q + n if q < n else q - n
        sims = x @ x[q] / (norms * norms[q])
        order = []
        for c in range(2 * n):
            if c == q and rule == "strict":
                continue
            order.append(c)
        if rule == "strict":
            rank = sum(1 for c in order if c != match and sims[c] > sims[match])
        else:  # sort by similarity, ties by lower index; drop position 0
            order.sort(key=lambda c: (-sims[c], c))
            rank = order.index(match) - 1
        for k in ks:
            hits[k][q >= n] += int(0 <= rank < k)
    out = {"cosine_similarity": float(np.mean([x[i] @ x[i + n] / (norms[i] * norms[i + n])
                                               for i in range(n)]))}
    for k in ks:
        out[f"top_{k}_accuracy"] = (hits[k][0] / n + hits[k][1] / n) / 2
    return out


def _noisy_pair(rng, n, d, noise, integer=False):
    a = rng.normal(size=(n, d))
    b = a + noise * rng.normal(size=(n, d))
    if integer:
        a, b = np.round(a * 3), np.round(b * 3)
        a[np.abs(a).sum(1) == 0, 0] = 1
        b[np.abs(b).sum(1) == 0, 0] = 1
    return a.astype(np.float32), b.astype(np.float32)


KS = (1, 3, 5, 10)


@pytest.mark.parametrize("rule", ["strict", "upstream"])
@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_chunked_equals_dense_on_random_features(rule, chunk):
    rng = np.random.default_rng(0)
    a, b = _noisy_pair(rng, 90, 24, noise=1.2)
    settings = PlismMetricSettings(dtype="float32", rank_rule=rule, chunk=chunk)
    ra, rb, cos = match_ranks(a, b, settings)
    da, db, dcos = dense_match_ranks(a, b, settings)
    np.testing.assert_array_equal(ra, da)
    np.testing.assert_array_equal(rb, db)
    np.testing.assert_allclose(cos, dcos, atol=1e-6)
    # the two directions differ on noisy data: a one-sided bug would show
    assert not np.array_equal(ra, rb)


@pytest.mark.parametrize("rule", ["strict", "upstream"])
def test_chunked_equals_brute_force_with_ties(rule):
    rng = np.random.default_rng(1)
    a, b = _noisy_pair(rng, 40, 6, noise=0.8, integer=True)
    # exact ties: duplicated tiles within a slide, a B row equal to its match, a B row
    # equal to a foreign A row, and a whole repeated block
    a[5] = a[3]
    b[7] = a[7]
    b[9] = a[11]
    b[20:24] = b[10:14]
    settings = PlismMetricSettings(dtype="float32", rank_rule=rule, chunk=9)
    got = pair_metrics(a, b, settings)
    want = brute_force(a, b, KS, rule)
    assert got.keys() == want.keys()
    for key in KS:
        assert got[f"top_{key}_accuracy"] == want[f"top_{key}_accuracy"], key
    assert got["cosine_similarity"] == pytest.approx(want["cosine_similarity"], abs=1e-6)


def test_identical_slides_strict_is_perfect_upstream_is_half():
    rng = np.random.default_rng(2)
    a = np.round(rng.normal(size=(30, 8)) * 4).astype(np.float32) + 0.5
    strict = pair_metrics(a, a.copy(), PlismMetricSettings(rank_rule="strict", chunk=8))
    upstream = pair_metrics(a, a.copy(), PlismMetricSettings(rank_rule="upstream", chunk=8))
    assert all(strict[f"top_{k}_accuracy"] == 1.0 for k in KS)
    assert all(upstream[f"top_{k}_accuracy"] == 0.5 for k in KS)
    assert strict["cosine_similarity"] == pytest.approx(1.0, abs=1e-6)


def test_float16_setting_casts_before_float32_arithmetic():
    rng = np.random.default_rng(3)
    # norms far above float16's max: plismbench's float16 matmul would overflow
    a, b = _noisy_pair(rng, 50, 16, noise=0.5)
    a, b = a * 2000, b * 2000
    half = PlismMetricSettings(dtype="float16", chunk=16)
    got = pair_metrics(a, b, half)
    want = pair_metrics(a.astype(np.float16).astype(np.float32),
                        b.astype(np.float16).astype(np.float32),
                        PlismMetricSettings(dtype="float32", chunk=16))
    assert got == want
    assert np.isfinite(got["cosine_similarity"])


def test_bad_features_fail_clearly():
    a = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="zero norm"):
        pair_metrics(a, np.zeros_like(a))
    with pytest.raises(ValueError, match="same tiles"):
        pair_metrics(a, np.ones((5, 3), np.float32))
    with pytest.raises(ValueError, match="rank_rule"):
        PlismMetricSettings(rank_rule="loose")


def test_pair_sets_and_classes():
    names91 = plism_slide_names()
    assert len(names91) == 91
    pairs = slide_pairs(names91)
    assert len(pairs) == 91 * 90 // 2 == 4095
    counts = {c: sum(p[2] == c for p in pairs) for c in ("inter_scanner", "inter_staining",
                                                       "inter_both")}
    assert counts == {"inter_scanner": 13 * 21, "inter_staining": 7 * 78,
                      "inter_both": 4095 - 13 * 21 - 7 * 78}
    pairs21 = slide_pairs(plism_slide_names(["GMH", "GVH", "HRH"]))
    assert len(pairs21) == 210
    assert pair_class("GMH_S60", "GMH_AT2") == "inter_scanner"
    assert pair_class("GMH_S60", "GV_S60") == "inter_staining"
    assert pair_class("GMH_S60", "GV_AT2") == "inter_both"
    with pytest.raises(ValueError):
        pair_class("GMH_S60", "GMH_S60")
    with pytest.raises(ValueError):
        pair_class("GMHS60", "GV_AT2")


def test_aggregate_and_leaderboard_on_hand_made_rows():
    def row(a, b, cos, top10):
        return {"slide_a": a, "slide_b": b, "pair_class": pair_class(a, b),
                "cosine_similarity": cos, "top_10_accuracy": top10}

    rows = [row("A_X", "A_Y", 0.9, 0.8),   # inter_scanner
            row("A_X", "B_X", 0.5, 0.2),   # inter_staining
            row("A_X", "B_Y", 0.4, 0.1),   # inter_both
            row("A_Y", "B_X", 0.6, 0.3),   # inter_both
            row("A_Y", "B_Y", 0.7, 0.4),   # inter_staining
            row("B_X", "B_Y", 0.8, 0.6)]   # inter_scanner
    agg = aggregate(rows)
    s = agg["inter_both"]["top_10_accuracy"]
    assert (s.mean, s.median, s.n_pairs) == pytest.approx((0.2, 0.2, 2))
    assert s.std == pytest.approx(0.1)            # ddof 0
    assert s.iqr == pytest.approx(0.1)            # 0.275 - 0.175
    cos_all = agg["all"]["cosine_similarity"]
    assert cos_all.median == pytest.approx(0.65)
    assert cos_all.iqr == pytest.approx(0.775 - 0.525)
    assert summarize([1.0, 2.0, 3.0, 4.0]).iqr == pytest.approx(1.5)
    # mean of: cosine median over all (0.65), top-10 medians 0.7, 0.3, 0.2
    assert leaderboard_score(agg) == pytest.approx((0.65 + 0.7 + 0.3 + 0.2) / 4)


def test_evaluate_pairs_loads_lazily_and_subsets_tiles():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(20, 5)).astype(np.float32)
    feats = {name: base + 0.3 * rng.normal(size=base.shape).astype(np.float32)
             for name in plism_slide_names(["GM", "HR"], ["S60", "AT2"])}
    loads = []

    def load(name):
        loads.append(name)
        return feats[name]

    pairs = slide_pairs(list(feats))
    idx = np.arange(0, 20, 2)
    rows = evaluate_pairs(load, pairs, PlismMetricSettings(chunk=4), tile_index=idx)
    assert len(rows) == 6 and loads.count("GM_S60") == 1
    want = pair_metrics(feats["GM_S60"][idx], feats["HR_AT2"][idx], PlismMetricSettings())
    got = next(r for r in rows if (r["slide_a"], r["slide_b"]) == ("GM_S60", "HR_AT2"))
    assert {k: got[k] for k in want} == want
