"""HEST protocol: Pearson against scipy, alpha actually used, signal vs noise genes."""

import numpy as np
import pytest
from scipy import stats

from pathfm.bench.hest import HestSettings, fit_predict, hest_benchmark, pearson_per_gene


def test_pearson_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(60, 5))
    b[:, 1] += 2 * a[:, 1]
    ref = [stats.pearsonr(a[:, g], b[:, g]).statistic for g in range(5)]
    np.testing.assert_allclose(pearson_per_gene(a, b), ref, atol=1e-6)


def test_constant_prediction_is_nan():
    a = np.random.default_rng(1).normal(size=(10, 2))
    assert np.isnan(pearson_per_gene(a, np.ones_like(a))).all()


def test_default_alpha_and_configured_alpha_are_used():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(80, 12)), rng.normal(size=(80, 3))
    _, info = fit_predict(x, y, x[:5], 3, HestSettings(pca_dim=256))
    assert info == {"pca_dim": 12, "alpha": pytest.approx(100 / (12 * 3))}
    p_small, _ = fit_predict(x, y, x[:5], 3, HestSettings(alpha=1e-6))
    p_big, info = fit_predict(x, y, x[:5], 3, HestSettings(alpha=1e6))
    assert info["alpha"] == 1e6
    assert np.abs(p_big).max() < 1e-2 < np.abs(p_small).max()  # a huge alpha shrinks to zero


def test_benchmark_signal_and_noise_genes():
    rng = np.random.default_rng(3)
    samples = {f"S{i}": rng.normal(size=(120, 10)) for i in range(3)}
    w = rng.normal(size=(10, 4))
    targets = {s: np.concatenate([np.log1p(np.exp(f @ w)), rng.normal(size=(len(f), 2))], axis=1)
               for s, f in samples.items()}
    feats = np.concatenate(list(samples.values()))
    sample_of = np.repeat(list(samples), 120)
    folds = [{"train": [t for t in samples if t != s], "test": [s]} for s in samples]
    res = hest_benchmark(feats, sample_of, targets, folds, [f"G{i}" for i in range(4)], ["N0", "N1"], HestSettings())
    assert len(res["runs"]["pearson"]) == 3
    assert min(res["runs"]["pearson"]) > 0.8
    assert abs(np.mean(res["runs"]["pearson_extra"])) < 0.2
