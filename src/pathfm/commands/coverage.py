"""Published cells of the H0-mini and kaiko papers that a config computes.

    pathfm coverage --config config/paper.yaml [--json results/coverage.json] [--min-share 0.95]

Prints, per table and per paper, cells computed / cells published, then every cell left
out with its reason. Exit 1 when a paper's share is below ``--min-share``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pathfm.io import write_json_atomic
from pathfm.workflow.coverage import (as_records, coverage, format_report, paper_totals,
                                      plan_of_config_file)

ROOT = Path(__file__).resolve().parents[3]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="workflow config file (YAML)")
    ap.add_argument("--basedir", default=str(ROOT), help="repository root (workflow/schemas)")
    ap.add_argument("--json", help="also write the report as JSON here")
    ap.add_argument("--min-share", type=float, default=0.0,
                    help="exit 1 when a paper's computed share is below this")
    args = ap.parse_args(argv)
    rows = coverage(plan_of_config_file(args.config, args.basedir))
    print(format_report(rows))
    sys.stdout.flush()
    totals = paper_totals(rows)
    if args.json:
        write_json_atomic(args.json, {"config": args.config, "tables": as_records(rows),
                                      "papers": {p: {"computed": a, "published": b}
                                                 for p, (a, b) in totals.items()}})
    return 0 if all(b == 0 or a / b >= args.min_share for a, b in totals.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
