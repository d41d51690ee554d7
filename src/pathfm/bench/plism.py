"""PLISM robustness metrics: matched-tile cosine and bidirectional top-k retrieval.

Protocol (H0-mini paper §3.2.2 and supplement 7.3; owkin/plism-benchmark):

- **cosine**: mean over the n matched tiles of cos(a_i, b_i).
- **top-k**: stack both slides (2n rows). For a query row, every other row of
  either slide is a candidate; the query is a hit when its matched tile on the
  other slide is among its k most similar candidates. Averaged over all rows of
  A (direction A→B) and all rows of B (B→A), then over the two directions.

Ranking rule (named setting ``rank_rule``), computed exactly the same way by the
chunked code and the dense reference :func:`dense_match_ranks`. Let "ahead" be the
candidates (query excluded) more similar to the query than its match, and "tied" those
as similar (see ties below):

- ``"strict"`` (default, the paper's definition): rank = number ahead; hit when
  rank < k. Ties favour the match (optimistic): a match tied with a duplicate of
  itself still counts as found, and two identical slides score 1.0.
- ``"pessimistic"``: rank = number ahead + number tied: ties count against the match,
  so a hit means the match is found whatever order the ties are put in. Any tie order
  gives a rank between the two; they differ only where the match has an exact tie.
- ``"upstream"``: emulates plismbench's ``argpartition(-cos)[:, 1:k+1]``, which
  assumes the query itself ranks first. The query is kept as a candidate, the
  rows are ordered by similarity with ties broken by the lower stacked index
  (A rows 0..n-1, then B rows n..2n-1), the first position is dropped, and a
  hit is a match at positions 1..k. Two identical slides then score 0.5.

Every rule is a function of the true similarities alone, so it is the same for
every ``chunk``. The default is strict because it is the paper's rank and
deterministic; pessimistic is the lower bound, for slides with many duplicated tiles
(background, pen marks, repeated crops), where strict can flatter a model.

Ties. Real slides hold exactly duplicated tiles, whose similarities are equal in
exact arithmetic but not after floating point: a matrix product's summation order
depends on the block shape (the chunk), on the kernel (BLAS, cuBLAS, TF32) and on
where the pair sits in the block, so a float32 comparison ``>`` flips with the chunk
size. Features are therefore cast to the setting's ``dtype`` (plismbench uses
float16; this is the only rounding kept) and all arithmetic is float64, where the
products of float16/float32 inputs are exact and any summation order gives a cosine
within (2d + 4)·2⁻⁵³ of the true one (d = feature dimension; standard forward error
bound of a dot product and a norm, plus the divisions). Two cosines are tied when they
differ by at most :func:`tie_tolerance` = (4d + 16)·2⁻⁵³ (about 7e-13 at d = 1,536),
twice that bound, so equal true similarities are always tied and similarities that
differ by more than twice the tolerance are always ordered, whatever the chunk.
Comparing float32 values within a tolerance instead would need one near 4e-4 at this
dimension (float32's worst case), merging distinct near-duplicates; matching the
match's kernel to its candidates' would not remove the dependence on the block shape.
Only true gaps below ~1.4e-12 (cosines agreeing to 12 digits without being equal) may
be read either way. Unnormalised float16 features cannot overflow here. Memory is
O(n·d + n·chunk): the (2n)² similarity matrix is never built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations

import numpy as np
import torch

STAININGS = ("GIV", "GIVH", "GM", "GMH", "GV", "GVH", "HR", "HRH", "KR", "KRH", "LM", "LMH",
             "MY")
SCANNERS = ("AT2", "GT450", "P", "S210", "S360", "S60", "SQ")
REFERENCE_SLIDE = "GMH_S60"
PAIR_CLASSES = ("inter_scanner", "inter_staining", "inter_both", "all")
# plismbench's labels for the same classes, for tables that quote it.
UPSTREAM_CLASS_LABELS = {"inter_scanner": "inter-scanner", "inter_staining": "inter-staining",
                         "inter_both": "inter-scanner, inter-staining", "all": "all"}
PROTOCOL_VERSION = "plism-robustness-v1"


RANK_RULES = ("strict", "pessimistic", "upstream")


@dataclass(frozen=True)
class PlismMetricSettings:
    """How the metrics are computed; written next to every result.

    ``dtype``: "float16" (plismbench) or "float32", the precision features are
    cast to before float64 arithmetic. ``rank_rule``: one of :data:`RANK_RULES` (module
    docstring). ``chunk``: query rows per block (memory only, never changes a result,
    ties included). ``device``: torch device, None = cuda if visible (the arithmetic
    is float64, which MPS lacks).
    """

    dtype: str = "float16"
    top_k: tuple[int, ...] = (1, 3, 5, 10)
    rank_rule: str = "strict"
    chunk: int = 1024
    device: str | None = None

    def __post_init__(self) -> None:
        if self.dtype not in ("float16", "float32"):
            raise ValueError(f"dtype must be 'float16' or 'float32', got {self.dtype!r}")
        if self.rank_rule not in RANK_RULES:
            raise ValueError(f"rank_rule must be one of {RANK_RULES}, got {self.rank_rule!r}")
        if not self.top_k or min(self.top_k) < 1:
            raise ValueError(f"top_k must be positive integers, got {self.top_k}")
        if self.chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {self.chunk}")

    def resolved_device(self) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(protocol=PROTOCOL_VERSION, top_k=list(self.top_k),
                   device=str(self.resolved_device()))
        return out


def tie_tolerance(dim: int) -> float:
    """Largest gap between two float64 cosines of d-dimensional float16/float32 features
    that are equal in exact arithmetic, whatever the summation order: (4d + 16)·2⁻⁵³.

    Each computed cosine is within γ_d (dot product) + γ_d/2 + u per norm + 2u (product
    and division) ≈ (2d + 4)·u of the true one, u = 2⁻⁵³; twice that, with slack for
    the second-order terms.
    """
    return (4 * int(dim) + 16) * 2.0 ** -53


def _prepare(features, settings: PlismMetricSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, d) array → float64 tensor on the device (after the dtype cast) and its row norms."""
    x = torch.as_tensor(np.asarray(features))
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (n_tiles, dim), got shape {tuple(x.shape)}")
    x = x.to(getattr(torch, settings.dtype)).to(settings.resolved_device(), torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError(f"features hold NaN or inf after the cast to {settings.dtype}")
    norms = torch.linalg.vector_norm(x, dim=1)
    if (norms == 0).any():
        raise ValueError("a feature row has zero norm: its cosine similarity is undefined")
    return x, norms


def _sims(x: torch.Tensor, nx: torch.Tensor, y: torch.Tensor, ny: torch.Tensor) -> torch.Tensor:
    """Cosine block (rows of x against rows of y), float64: dot / (|x||y|)."""
    return (x @ y.T) / (nx[:, None] * ny[None, :])


def _rowwise_cos(x, nx, y, ny) -> torch.Tensor:
    return (x * y).sum(1) / (nx * ny)


def match_ranks(features_a, features_b, settings: PlismMetricSettings = PlismMetricSettings()
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-tile match ranks in both directions, chunked.

    Args: features_a, features_b: (n, d) matched features (row i of A ↔ row i of B).
    Returns ``(rank_a, rank_b, cos)``: int64 (n,) ranks of the match for queries of A
    (A→B) and of B (B→A) under ``settings.rank_rule`` (hit@k ⇔ rank < k, see module
    docstring; the upstream rule's position p is returned as p-1, -1 meaning dropped),
    and float64 (n,) matched cosines. Similarities within :func:`tie_tolerance` of the
    match's are tied, so the ranks do not depend on ``settings.chunk``.
    """
    a, na = _prepare(features_a, settings)
    b, nb = _prepare(features_b, settings)
    if a.shape != b.shape:
        raise ValueError(f"slides must hold the same tiles: {tuple(a.shape)} vs {tuple(b.shape)}")
    n = a.shape[0]
    rule = settings.rank_rule
    tol = tie_tolerance(a.shape[1])
    m = _rowwise_cos(a, na, b, nb)  # (n,) similarity of each matched pair
    # A candidate counts against the match when above `bar` (">" ahead, ">=" ahead or tied).
    lo, hi = m - tol, m + tol
    bar, above = (lo, torch.ge) if rule == "pessimistic" else (hi, torch.gt)
    rank_a = torch.zeros(n, dtype=torch.int64, device=a.device)
    rank_b = torch.zeros(n, dtype=torch.int64, device=a.device)
    cols = torch.arange(n, device=a.device)
    for r0 in range(0, n, settings.chunk):
        r1 = min(r0 + settings.chunk, n)
        rows = cols[r0:r1]
        own = (rows[:, None] == cols[None, :])  # (c, n) True at the query's own column
        # -inf at the own column: never above a bar, never tied
        s_aa = _sims(a[r0:r1], na[r0:r1], a, na).masked_fill_(own, -torch.inf)
        s_bb = _sims(b[r0:r1], nb[r0:r1], b, nb).masked_fill_(own, -torch.inf)
        s_ab = _sims(a[r0:r1], na[r0:r1], b, nb).masked_fill_(own, -torch.inf)
        br = bar[r0:r1, None]
        rank_a[r0:r1] += above(s_aa, br).sum(1) + above(s_ab, br).sum(1)
        rank_b[r0:r1] += above(s_bb, br).sum(1)
        rank_b += above(s_ab, bar[None, :]).sum(0)  # column i of S_AB = b_i against A's rows
        if rule == "upstream":
            lower = rows[:, None] < cols[None, :]  # A row r precedes B's match column c if r < c
            tied_rows = (s_ab >= lo[r0:r1, None]) & (s_ab <= hi[r0:r1, None])
            tied_cols = (s_ab >= lo[None, :]) & (s_ab <= hi[None, :])
            # A→B: the match b_i sits at stacked n+i, after every A row and B rows j < i.
            rank_a[r0:r1] += (((s_aa >= lo[r0:r1, None]) & (s_aa <= hi[r0:r1, None])).sum(1)
                              + (tied_rows & ~lower).sum(1))
            # B→A: the match a_i sits at stacked i, after A rows j < i only.
            rank_b += (tied_cols & lower).sum(0)
    if rule == "upstream":
        # the query is a candidate; it precedes its match when tied only on A (lower index)
        rank_a += (_rowwise_cos(a, na, a, na) >= lo).long()
        rank_b += (_rowwise_cos(b, nb, b, nb) > hi).long()
        rank_a -= 1  # position 0 is dropped by upstream; p-1 < k ⇔ 1 ≤ p ≤ k after the mask
        rank_b -= 1
    return _finish(rank_a, rank_b, m)


def _finish(rank_a, rank_b, m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (rank_a.cpu().numpy(), rank_b.cpu().numpy(), m.double().cpu().numpy())


def dense_match_ranks(features_a, features_b,
                      settings: PlismMetricSettings = PlismMetricSettings()
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference: the same ranks from the full (2n)² matrix, as plismbench builds it.

    Memory O(n²); for tests and small benchmarks only. Same return and tie rule as
    :func:`match_ranks`.
    """
    a, na = _prepare(features_a, settings)
    b, nb = _prepare(features_b, settings)
    n = a.shape[0]
    tol = tie_tolerance(a.shape[1])
    x, nx = torch.cat([a, b]), torch.cat([na, nb])
    s = _sims(x, nx, x, nx)  # (2n, 2n)
    m = _rowwise_cos(a, na, b, nb)
    q = torch.arange(2 * n, device=x.device)
    match = torch.cat([q[n:], q[:n]])  # stacked index of each row's match
    mq = torch.cat([m, m])[:, None]
    idx = q[None, :]
    is_self, is_match = idx == q[:, None], idx == match[:, None]
    if settings.rank_rule == "upstream":
        s_self = torch.cat([_rowwise_cos(a, na, a, na), _rowwise_cos(b, nb, b, nb)])
        s = torch.where(is_self, s_self[:, None], s)
        tied = (s >= mq - tol) & (s <= mq + tol)
        ahead = ((s > mq + tol) | (tied & (idx < match[:, None]))) & ~is_match
    else:
        bar = mq - tol if settings.rank_rule == "pessimistic" else mq + tol
        above = s >= bar if settings.rank_rule == "pessimistic" else s > bar
        ahead = above & ~is_self & ~is_match
    rank = ahead.sum(1) - int(settings.rank_rule == "upstream")
    return _finish(rank[:n], rank[n:], m)


def topk_from_ranks(rank_a: np.ndarray, rank_b: np.ndarray, top_k: Iterable[int]
                    ) -> dict[str, float]:
    """Top-k accuracy per k: hits (0 ≤ rank < k) averaged per direction, then over both."""
    out = {}
    for k in top_k:
        acc_ab = float(np.mean((rank_a >= 0) & (rank_a < k)))
        acc_ba = float(np.mean((rank_b >= 0) & (rank_b < k)))
        out[f"top_{k}_accuracy"] = (acc_ab + acc_ba) / 2
    return out


def pair_metrics(features_a, features_b, settings: PlismMetricSettings = PlismMetricSettings()
                 ) -> dict[str, float]:
    """``{"cosine_similarity": …, "top_1_accuracy": …, …}`` for one slide pair."""
    rank_a, rank_b, cos = match_ranks(features_a, features_b, settings)
    return {"cosine_similarity": float(cos.mean()),
            **topk_from_ranks(rank_a, rank_b, settings.top_k)}


# ---------------------------------------------------------------- slide pairs


def plism_slide_names(stainings: Sequence[str] = STAININGS,
                      scanners: Sequence[str] = SCANNERS) -> list[str]:
    """Slide ids ``{staining}_{scanner}``: 91 for the full set, 21 for 3 stainings × 7."""
    return [f"{st}_{sc}" for st in stainings for sc in scanners]


def parse_slide_name(name: str) -> tuple[str, str]:
    """``"GMH_S60"`` → ``("GMH", "S60")``."""
    staining, sep, scanner = name.partition("_")
    if not sep or not staining or not scanner or "_" in scanner:
        raise ValueError(f"PLISM slide id must read '<staining>_<scanner>', got {name!r}")
    return staining, scanner


def pair_class(slide_a: str, slide_b: str) -> str:
    """``inter_scanner`` (same staining), ``inter_staining`` (same scanner) or ``inter_both``."""
    st_a, sc_a = parse_slide_name(slide_a)
    st_b, sc_b = parse_slide_name(slide_b)
    if (st_a, sc_a) == (st_b, sc_b):
        raise ValueError(f"a pair needs two different slides, got {slide_a} twice")
    if st_a == st_b:
        return "inter_scanner"
    if sc_a == sc_b:
        return "inter_staining"
    return "inter_both"


def slide_pairs(names: Sequence[str]) -> list[tuple[str, str, str]]:
    """All unordered pairs ``(a, b, class)`` in the order of ``names`` (4,095 for 91 slides)."""
    if len(set(names)) != len(names):
        raise ValueError("slide names must be unique")
    return [(a, b, pair_class(a, b)) for a, b in combinations(names, 2)]


def evaluate_pairs(load: Callable[[str], np.ndarray], pairs: Sequence[tuple[str, str, str]],
                   settings: PlismMetricSettings = PlismMetricSettings(),
                   tile_index: np.ndarray | None = None,
                   progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Metrics for every pair; ``load(slide_id)`` → (n, d) features, same tile order per slide.

    ``tile_index`` selects a tile subset (plismbench: 8,139 of 16,278). Slides are
    loaded lazily and only the last A slide is kept, so memory stays O(n·d).
    """
    rows, cached = [], (None, None)
    for i, (slide_a, slide_b, cls) in enumerate(pairs):
        if cached[0] != slide_a:
            cached = (slide_a, _subset(load(slide_a), tile_index))
        feats_b = _subset(load(slide_b), tile_index)
        rows.append({"slide_a": slide_a, "slide_b": slide_b, "pair_class": cls,
                     **pair_metrics(cached[1], feats_b, settings)})
        if progress is not None:
            progress(i + 1, len(pairs))
    return rows


def _subset(x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    return np.asarray(x) if idx is None else np.asarray(x)[idx]


# ---------------------------------------------------------------- aggregates


@dataclass(frozen=True)
class Summary:
    """Aggregate over pairs: mean, std (ddof 0), median and IQR (linear quantiles), as
    plismbench's ``aggregate_metrics``."""

    mean: float
    std: float
    median: float
    iqr: float
    n_pairs: int = field(default=0)


def summarize(values: Sequence[float]) -> Summary:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("cannot summarise an empty set of pairs")
    q25, q50, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    return Summary(float(v.mean()), float(v.std()), float(q50), float(q75 - q25), int(v.size))


def aggregate(rows: Sequence[Mapping], metric_names: Sequence[str] | None = None
              ) -> dict[str, dict[str, Summary]]:
    """``{pair class or "all": {metric: Summary}}`` from :func:`evaluate_pairs` rows.

    A class without pairs (e.g. inter_staining in a one-staining set) is omitted.
    """
    if metric_names is None:
        metric_names = [k for k in rows[0] if k == "cosine_similarity" or k.startswith("top_")]
    out = {}
    for cls in PAIR_CLASSES:
        chosen = [r for r in rows if cls == "all" or r["pair_class"] == cls]
        if chosen:
            out[cls] = {name: summarize([r[name] for r in chosen]) for name in metric_names}
    return out


def leaderboard_score(aggregates: Mapping[str, Mapping[str, Summary]], k: int = 10) -> float:
    """plismbench's score: mean of the medians of cosine (all pairs) and top-k for each class."""
    top = f"top_{k}_accuracy"
    missing = [c for c in PAIR_CLASSES if c not in aggregates]
    if missing:
        raise ValueError(f"leaderboard score needs every pair class; missing {missing}")
    medians = [aggregates["all"]["cosine_similarity"].median,
               *(aggregates[c][top].median for c in ("inter_scanner", "inter_staining",
                                                     "inter_both"))]
    return float(np.mean(medians))


# ---------------------------------------------------------------- stores and results


def matched_feature_loader(embeddings: Mapping[str, str], tiles: Mapping[str, str],
                           pooling: str | None = None
                           ) -> tuple[Callable[[str], np.ndarray], np.ndarray]:
    """``load(slide_id)`` → (n, d) float32 features in the set's common tile order, and the
    (n,) ``tile_id`` of that order, from embedding stores and the tile stores they embed.

    Every slide must hold the same tile ids in the same order (the matched tiling writes
    them so); a store that disagrees raises, naming it, rather than scoring mismatched tiles.
    """
    from pathfm.embed.store import open_embedding_store
    from pathfm.wsi.tile_store import open_tile_store

    if set(embeddings) != set(tiles):
        raise ValueError(f"embedding and tile stores name different slides: "
                         f"{sorted(set(embeddings) ^ set(tiles))}")
    ids = {s: np.asarray(open_tile_store(p)["tile_id"][:]) for s, p in tiles.items()}
    first = next(iter(ids))
    for slide_id, tile_ids in ids.items():
        if not np.array_equal(tile_ids, ids[first]):
            raise ValueError(f"{tiles[slide_id]}: tile ids differ from {tiles[first]}; "
                             "re-run the matched tiling for the whole set")

    def load(slide_id: str) -> np.ndarray:
        store = open_embedding_store(embeddings[slide_id])
        feats = store.pooled(pooling)
        if len(feats) != len(ids[slide_id]):
            raise ValueError(f"{embeddings[slide_id]}: {len(feats)} rows for "
                             f"{len(ids[slide_id])} tiles in {tiles[slide_id]}; re-embed it")
        return feats

    return load, ids[first]


def summary_dict(s: Summary) -> dict:
    return {"mean": s.mean, "std": s.std, "median": s.median, "iqr": s.iqr,
            "n_pairs": s.n_pairs}


def robustness_result(model: str, plism_set: str, rows: Sequence[Mapping],
                      settings: PlismMetricSettings, provenance: Mapping,
                      leaderboard_k: int = 10) -> dict:
    """The house benchmark result for one model on one PLISM set.

    ``metrics``: {pair class: {metric: {mean, std, median, iqr, n_pairs}}}; ``pairs``: the
    per-pair rows; ``leaderboard_score`` (None when a pair class is missing, e.g. one staining).
    """
    agg = aggregate(rows)
    try:
        score = leaderboard_score(agg, k=leaderboard_k)
    except (ValueError, KeyError):
        score = None
    return {"benchmark": "plism", "task": plism_set, "model": model,
            "protocol": PROTOCOL_VERSION, "settings": settings.to_dict(),
            "metrics": {cls: {name: summary_dict(s) for name, s in m.items()}
                        for cls, m in agg.items()},
            "leaderboard_score": score, "leaderboard_k": leaderboard_k,
            "pairs": [dict(r) for r in rows], "provenance": dict(provenance)}
