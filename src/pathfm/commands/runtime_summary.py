"""Summarise Snakemake benchmark files (runtime/**/*.tsv) per rule into one JSON.

Example::

    pathfm runtime-summary --runtime-dir runtime --out results/runtime.json
"""

from __future__ import annotations

import argparse
import logging

from pathfm.io import write_json_atomic
from pathfm.report.runtime import summarize_runtime

log = logging.getLogger("runtime_summary")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runtime-dir", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    rules = summarize_runtime(args.runtime_dir)
    total = sum(r["total_s"] for r in rules.values())
    write_json_atomic(args.out, {"total_s": round(total, 3), "rules": rules})
    log.info("%d rules, %.1f s in all", len(rules), total)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
