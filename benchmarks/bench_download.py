"""Download throughput against the loopback fake GDC (clean, and with dropped connections).

    python benchmarks/bench_download.py --mb 128 --out results/bench/download.json

Measures the client (Range resume, md5 while streaming, fsync, rename), not a network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sources.fake_gdc import FakeGDC  # noqa: E402 (after the sys.path insert)

from pathfm.io import write_json_atomic  # noqa: E402 (after the sys.path insert)
from pathfm.sources.download import download_file  # noqa: E402 (after the sys.path insert)
from pathfm.sources.http import RetryPolicy  # noqa: E402 (after the sys.path insert)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=128, help="file size in MB")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--drops", type=int, default=4, help="dropped connections in the faulty run")
    ap.add_argument("--out", default="results/bench/download.json")
    args = ap.parse_args(argv)
    size = args.mb * 1_000_000
    content = os.urandom(size)
    md5 = hashlib.md5(content).hexdigest()
    runs = []
    with FakeGDC(lifetime=600) as fake, tempfile.TemporaryDirectory() as tmp:
        fake.add_file("f", content, {"file_name": "f.svs"})
        url = f"{fake.url}/data/f"
        for scenario in ["clean"] * args.repeats + ["dropped"]:
            dest = Path(tmp) / f"{scenario}-{len(runs)}.svs"
            if scenario == "dropped":
                fake.fault("f", *[("drop", size // (args.drops + 2))] * args.drops)
            t0 = time.perf_counter()
            res = download_file(url, dest, md5=md5, size=size, policy=RetryPolicy(backoff_base=0.01))
            dt = time.perf_counter() - t0
            runs.append({"scenario": scenario, "seconds": dt, "mb_per_s": size / 1e6 / dt,
                         "attempts": res.attempts, "bytes_transferred": res.bytes_transferred})
            dest.unlink()
    clean = [r["mb_per_s"] for r in runs if r["scenario"] == "clean"]
    report = {"benchmark": "download_loopback", "file_mb": args.mb, "runs": runs,
              "clean_mb_per_s_median": sorted(clean)[len(clean) // 2],
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}}
    write_json_atomic(args.out, report)
    print(json.dumps({k: report[k] for k in ("file_mb", "clean_mb_per_s_median")}), [round(r["mb_per_s"], 1) for r in runs])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
