"""The HEST-Benchmark protocol (mahmoodlab/HEST; docs/protocols.md), with its alpha actually used.

Per patient fold: targets log1p(counts) of the benchmark genes (not standardised);
features StandardScaler → PCA(256, seeded), both fit on the training spots only;
Ridge(solver='lsqr', fit_intercept=False, alpha); Pearson per gene over the
concatenated test spots; fold score = mean over genes; task score = mean ± std
(ddof 0) over folds. ``alpha=None`` is HEST's 100 / (d · G) with d the PCA
dimension and G the number of benchmark genes.

Extra genes (the demo's pure-noise genes) are regressed alongside with the same
alpha and reported separately, never mixed into the benchmark mean.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class HestSettings:
    pca_dim: int = 256
    alpha: float | None = None  # None: 100 / (d · G) as HEST
    seed: int = 0  # PCA's random_state

    def to_dict(self) -> dict:
        return asdict(self)


def pearson_per_gene(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(N, G) × (N, G) -> (G,) Pearson r; NaN where a column is constant (as scipy)."""
    a = y_true - y_true.mean(axis=0)
    b = y_pred - y_pred.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=0) / den, np.nan)


def fit_predict(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, n_bench_genes: int,
                settings: HestSettings) -> tuple[np.ndarray, dict]:
    """Scaler → PCA → ridge fit on train, predictions (N_te, G) for test, and what was used."""
    scaler = StandardScaler().fit(x_tr)
    d = min(settings.pca_dim, x_tr.shape[0], x_tr.shape[1])
    pca = PCA(n_components=d, random_state=settings.seed).fit(scaler.transform(x_tr))
    alpha = settings.alpha if settings.alpha is not None else 100.0 / (d * n_bench_genes)
    ridge = Ridge(solver="lsqr", fit_intercept=False, alpha=alpha, random_state=settings.seed)
    ridge.fit(pca.transform(scaler.transform(x_tr)), y_tr)
    return ridge.predict(pca.transform(scaler.transform(x_te))), {"pca_dim": d, "alpha": alpha}


def hest_benchmark(features: np.ndarray, sample_of: np.ndarray, targets: dict[str, np.ndarray],
                   folds: list[dict[str, list[str]]], genes: list[str], extra_genes: list[str],
                   settings: HestSettings) -> dict:
    """features (N, D) with sample ids (N,); targets[sample] (n_s, G + G_extra) log1p counts
    in the same row order as that sample's features; folds [{train: [ids], test: [ids]}].

    Returns {runs: {pearson, pearson_extra: per fold}, per_gene: {gene: [per fold]}, used: [...]}.
    """
    g = len(genes)
    runs: dict[str, list[float]] = {"pearson": []}
    if extra_genes:
        runs["pearson_extra"] = []
    per_gene: dict[str, list[float]] = {name: [] for name in genes + extra_genes}
    used = []
    for fold in folds:
        def take(ids):
            rows = [np.flatnonzero(sample_of == s) for s in ids]
            return np.concatenate([features[r] for r in rows]), np.concatenate([targets[s] for s in ids])

        x_tr, y_tr = take(fold["train"])
        x_te, y_te = take(fold["test"])
        pred, info = fit_predict(x_tr, y_tr, x_te, g, settings)
        r = pearson_per_gene(y_te, pred)
        runs["pearson"].append(float(np.nanmean(r[:g])))
        if extra_genes:
            runs["pearson_extra"].append(float(np.nanmean(r[g:])))
        for name, v in zip(genes + extra_genes, r):
            per_gene[name].append(float(v))
        used.append({**info, "n_train": int(len(x_tr)), "n_test": int(len(x_te))})
    return {"runs": runs, "per_gene": per_gene, "used": used}


def check_alignment(store_ids: np.ndarray, barcodes: np.ndarray, sample: str) -> None:
    if len(store_ids) != len(barcodes) or not np.array_equal(np.asarray(store_ids, str), np.asarray(barcodes, str)):
        raise ValueError(f"HEST sample {sample}: embedding ids do not match the patch barcodes; re-embed")

