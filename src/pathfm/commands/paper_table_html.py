"""A table's CSV as a standalone HTML page, the form the Snakemake report displays.

Example::

    pathfm paper-table-html --table results/tables/kaiko_table1_linear_probe.csv \\
        --caption "kaiko.ai Table I" --out results/report/tables/kaiko_table1_linear_probe.html
"""

from __future__ import annotations

import argparse
import logging

import pandas as pd

from pathfm.io import atomic_path
from pathfm.report.tables import to_html

log = logging.getLogger("paper_table_html")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", required=True, help="CSV written by a table rule")
    ap.add_argument("--caption", default="")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Cells are already formatted text ("0.876 (0.075)", "not run"): keep them as written.
    frame = pd.read_csv(args.table, dtype=str, keep_default_na=False)
    with atomic_path(args.out) as tmp:
        tmp.write_text(to_html(frame, args.caption))
    log.info("wrote %s (%d rows)", args.out, len(frame))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
