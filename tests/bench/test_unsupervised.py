"""RankMe and ODCorr against their direct dense formulas."""

import numpy as np
import pytest

from pathfm.bench.unsupervised import odcorr, rankme, unsupervised_metrics


def dense_rankme(x):
    s = np.linalg.svd(x.astype(np.float64), compute_uv=False)
    p = s / np.abs(s).sum() + 1e-7
    return np.exp(-(p * np.log(p)).sum())


def dense_odcorr(x):
    r = np.corrcoef(x.astype(np.float64))  # rows = samples
    n = len(x)
    off = r[~np.eye(n, dtype=bool)]
    return np.sqrt(np.mean(off ** 2))


@pytest.mark.parametrize("shape", [(50, 8), (7, 20), (300, 16)])
def test_rankme_matches_svd(shape):
    x = np.random.default_rng(0).normal(size=shape) + 0.3
    assert rankme(x, chunk=13) == pytest.approx(dense_rankme(x), abs=1e-6)


@pytest.mark.parametrize("shape", [(50, 8), (7, 20), (300, 16)])
def test_odcorr_matches_corrcoef(shape):
    x = np.random.default_rng(1).normal(size=shape) * np.linspace(0.5, 2, shape[1]) + 1.0
    assert odcorr(x, chunk=11) == pytest.approx(dense_odcorr(x), abs=1e-6)


def test_extremes():
    rng = np.random.default_rng(2)
    v = rng.normal(size=16)
    same = np.tile(v, (40, 1)) * rng.uniform(0.5, 2, (40, 1))  # rank 1, perfectly correlated rows
    assert odcorr(same) == pytest.approx(1.0, abs=1e-9)
    assert rankme(same) == pytest.approx(1.0, abs=1e-3)
    iso = rng.normal(size=(20000, 8))
    assert rankme(iso) > 7.9


def test_subsample_is_seeded():
    x = np.random.default_rng(3).normal(size=(500, 6))
    a, info = unsupervised_metrics(x, max_samples=100, seed=5)
    b, _ = unsupervised_metrics(x, max_samples=100, seed=5)
    assert a == b and info == {"n": 100, "dim": 6}
