"""Unsupervised embedding metrics of the kaiko.ai paper (appendix C), chunked for 10⁵+ samples.

- RankMe (Garrido et al. 2023): σ = singular values of the N×D embedding matrix
  (not centred); p_k = σ_k / ‖σ‖₁ + 1e-7; RankMe = exp(−Σ p_k log p_k).
  σ² are the eigenvalues of the D×D Gram XᵀX, accumulated over row chunks in float64.
- ODCorr (eq. 1): the root mean square of the Pearson correlations between the
  embeddings of different samples (i ≠ j). With z_i the centred, unit-norm rows,
  Σ_{i≠j} r_ij² = ‖ZᵀZ‖_F² − Σ_i ‖z_i‖⁴, so a D×D accumulator suffices (no N×N matrix).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7


def _chunks(x: np.ndarray, chunk: int):
    for a in range(0, len(x), chunk):
        yield np.asarray(x[a:a + chunk], dtype=np.float64)


def rankme(x: np.ndarray, chunk: int = 16384) -> float:
    """x: (N, D) embeddings -> RankMe in [1, min(N, D)]."""
    d = x.shape[1]
    gram = np.zeros((d, d))
    for c in _chunks(x, chunk):
        gram += c.T @ c
    sigma = np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0.0, None))[::-1][:min(x.shape)]
    p = sigma / sigma.sum() + EPS
    return float(np.exp(-np.sum(p * np.log(p))))


def odcorr(x: np.ndarray, chunk: int = 16384) -> float:
    """x: (N, D) embeddings -> RMS Pearson correlation over pairs of different rows."""
    n, d = x.shape
    if n < 2:
        raise ValueError("ODCorr needs at least two samples")
    acc, diag = np.zeros((d, d)), 0.0
    for c in _chunks(x, chunk):
        c = c - c.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(c, axis=1, keepdims=True)
        z = np.divide(c, norm, out=np.zeros_like(c), where=norm > 0)  # constant rows: r = 0
        acc += z.T @ z
        diag += float(np.sum(np.sum(z * z, axis=1) ** 2))
    off = max(float(np.sum(acc * acc)) - diag, 0.0)
    return float(np.sqrt(off / (n * (n - 1))))


def unsupervised_metrics(x: np.ndarray, max_samples: int | None = None, seed: int = 0) -> tuple[dict, dict]:
    """Both metrics on (a seeded subsample of at most ``max_samples``) rows; (metrics, info)."""
    idx = np.arange(len(x))
    if max_samples and len(x) > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(len(x), max_samples, replace=False))
    sub = x[idx]
    return {"rankme": rankme(sub), "odcorr": odcorr(sub)}, {"n": int(len(idx)), "dim": int(x.shape[1])}
