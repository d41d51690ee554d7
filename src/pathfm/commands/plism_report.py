"""H0-mini's PLISM outputs from benchmark results: the supplementary table, Figures 1 and 4.

The table holds cosine, top-1 and top-5 as mean (std) over slide pairs, beside the
published values; Figure 1 shows robustness across models and Figure 4 top-1 accuracy
under scanner vs staining variation.

Example::

    pathfm plism-report --results results/bench/plism/demo_plism/*.json \\
        --published config/paper_values/h0mini_table3_plism.csv \\
        --published-as '{"demo-h0-mini": "H0-Mini"}' \\
        --table results/tables/h0mini_table3_plism \\
        --fig1 results/figures/h0mini_fig1_robustness \\
        --fig4 results/figures/h0mini_fig4_scanner_vs_staining

Any of --table, --fig1, --fig4 may be left out; each writes its stem's .csv/.md/.tex
(table) or .png/.svg (figures).
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.report.plism_figures import robustness_figure, scanner_vs_staining_figure
from pathfm.report.plism_table import (
    display_columns,
    load_results,
    plism_table,
    scanner_vs_staining,
)
from pathfm.report.tables import read_published, write_table

log = logging.getLogger("plism_report")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", nargs="+", required=True, help="PLISM result JSONs")
    ap.add_argument("--published", required=True, help="config/paper_values CSV")
    ap.add_argument("--published-as", required=True, help="JSON {our model: paper row name}")
    ap.add_argument("--pair-class", default="all")
    ap.add_argument("--table", help="output stem of the table (.csv, .md, .tex)")
    ap.add_argument("--fig1", help="output stem of Figure 1 (.png, .svg)")
    ap.add_argument("--fig4", help="output stem of Figure 4 (.png, .svg)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    results = load_results(args.results)
    table = plism_table(results, read_published(args.published), json.loads(args.published_as),
                        args.pair_class)
    sets = sorted({r["task"] for r in results})
    if args.table:
        caption = (f"PLISM robustness ({', '.join(sets)}; {args.pair_class} pairs): mean (std) "
                   "over slide pairs, ours beside H0-mini supplement 7.2")
        write_table(table, {"csv": f"{args.table}.csv"})
        write_table(display_columns(table), {"md": f"{args.table}.md", "tex": f"{args.table}.tex"},
                    caption=caption, label="tab:h0mini_plism")
        log.info("table:\n%s", display_columns(table).to_string(index=False))
    if args.fig1:
        robustness_figure(table, args.fig1, f"PLISM robustness ({', '.join(sets)})")
    if args.fig4:
        scanner_vs_staining_figure(scanner_vs_staining(results), args.fig4)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
