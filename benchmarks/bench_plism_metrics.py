"""Time and memory of the PLISM metrics: chunked (pathfm) against the dense (2n)² matrix.

    .venv/bin/python benchmarks/bench_plism_metrics.py --out results/bench_plism_metrics.json

Random float16 features stand in for a model's: the cost depends only on the
shapes. Three measurements, each in a fresh process so that its peak RSS
(``resource.getrusage``) belongs to it alone:

1. ``compare``: chunked vs dense on one pair at a size the dense matrix fits
   (``--compare-tiles``), giving the time and peak-memory ratios in one run.
2. ``full``: the chunked metrics on ``--timed-pairs`` pairs of the full size
   (91 slides × 16,278 tiles × 1,536 dims by default); the whole set of 4,095
   pairs is extrapolated from the mean time per pair, and the JSON says so.
3. ``subset``: the same at plismbench's default 8,139-tile subset.

The dense approach's memory at full size is given as arithmetic (it does not fit here).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _features(seed: int, n: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, dim), dtype=np.float32)
    return base.astype(np.float16)


def _worker(job: dict, queue) -> None:
    """One measurement in its own process: time, RSS before and peak RSS after."""
    import torch

    from pathfm.bench.plism import PlismMetricSettings, dense_match_ranks, match_ranks

    torch.set_num_threads(job["threads"])
    settings = PlismMetricSettings(dtype="float16", chunk=job["chunk"], device="cpu")
    fn = dense_match_ranks if job["method"] == "dense" else match_ranks
    # Pair p uses slides (0, p+1): features of A shared across pairs, as in evaluate_pairs.
    feats_a = _features(0, job["n_tiles"], job["dim"])
    times = []
    rss_before = _rss_mb()
    for p in range(job["pairs"]):
        feats_b = feats_a + _features(p + 1, job["n_tiles"], job["dim"]) * np.float16(0.5)
        t0 = time.perf_counter()
        fn(feats_a, feats_b, settings)
        times.append(time.perf_counter() - t0)
    queue.put({**job, "seconds_per_pair": times, "mean_seconds_per_pair": float(np.mean(times)),
               "rss_before_mb": rss_before, "peak_rss_mb": _peak_rss_mb(),
               "peak_increment_mb": _peak_rss_mb() - rss_before})


def measure(job: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_worker, args=(job, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="JSON result path")
    ap.add_argument("--slides", type=int, default=91)
    ap.add_argument("--tiles", type=int, default=16_278)
    ap.add_argument("--subset-tiles", type=int, default=8_139)
    ap.add_argument("--dim", type=int, default=1_536)
    ap.add_argument("--timed-pairs", type=int, default=2,
                    help="pairs timed at full size; the rest is extrapolated")
    ap.add_argument("--compare-tiles", type=int, default=4_096,
                    help="tiles per slide for the chunked-vs-dense comparison")
    ap.add_argument("--chunk", type=int, default=1_024)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    n_pairs = args.slides * (args.slides - 1) // 2
    common = {"dim": args.dim, "chunk": args.chunk, "threads": args.threads}
    out: dict = {"benchmark": "plism_metrics", "features_dtype": "float16",
                 "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                             "torch_threads": args.threads, "python": sys.version.split()[0]}}

    dense = measure({**common, "method": "dense", "n_tiles": args.compare_tiles, "pairs": 1})
    chunked = measure({**common, "method": "chunked", "n_tiles": args.compare_tiles, "pairs": 1})
    out["compare"] = {
        "n_tiles": args.compare_tiles, "dense": dense, "chunked": chunked,
        "time_ratio_dense_over_chunked":
            dense["mean_seconds_per_pair"] / chunked["mean_seconds_per_pair"],
        "peak_increment_ratio_dense_over_chunked":
            dense["peak_increment_mb"] / max(chunked["peak_increment_mb"], 1e-9),
    }
    print(json.dumps(out["compare"], indent=1), flush=True)

    for key, n_tiles in (("full", args.tiles), ("subset", args.subset_tiles)):
        res = measure({**common, "method": "chunked", "n_tiles": n_tiles,
                       "pairs": args.timed_pairs})
        res["extrapolated"] = args.timed_pairs < n_pairs
        res["n_pairs_total"] = n_pairs
        res["estimated_total_hours"] = res["mean_seconds_per_pair"] * n_pairs / 3600
        # the dense (2n)² float32 similarity matrix alone, plus plismbench's int64 argpartition
        res["dense_matrix_gib"] = (2 * n_tiles) ** 2 * 4 / 2**30
        res["dense_argpartition_gib"] = (2 * n_tiles) ** 2 * 8 / 2**30
        out[key] = res
        print(json.dumps({key: res}, indent=1), flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".part")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
