"""One paper table or figure from benchmark results, beside the published values.

Kinds:
  table         our cells beside the paper's (kaiko Tables I–IV and VIII, H0-mini Tables 1–2)
  sweep         an ablation sweep as a table and a bar figure (kaiko Figs. 1 and 4)
  unsupervised  kaiko Fig. 6: balanced accuracy, ODCorr and RankMe per model and task
  distillation  GPFM Fig. 8: expert distillation on vs off, gains beside the paper's

Example::

    pathfm paper-table --kind table --results results/bench/linear_probe-eva/*/*.json \\
        --published config/paper_values/kaiko_table1_linear_probe.csv \\
        --spec '{"rows": [{"label": "demo-vit-s8", "model": "demo-vit-s8", "published": null}],
                 "cells": {"BACH": "linear_probe-eva/bach/balanced_accuracy"}}' \\
        --table results/tables/kaiko_table1_linear_probe --caption "kaiko Table I"

The spec is described in :mod:`pathfm.report.paper_compare`; ``contracts`` ({model:
text}), ``tasks`` (unsupervised) and ``metrics`` (distillation) extend it.
"""

from __future__ import annotations

import argparse
import json
import logging

import pandas as pd

from pathfm.report.paper_compare import NOT_RUN, comparison_table, index_results
from pathfm.report.paper_distillation import distillation_table
from pathfm.report.paper_figures import (
    sweep_figure,
    sweep_values,
    unsupervised_figure,
    unsupervised_values,
)
from pathfm.report.tables import read_published, write_table

log = logging.getLogger("paper_table")
KINDS = ("table", "sweep", "unsupervised", "distillation")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=KINDS, required=True)
    ap.add_argument("--results", nargs="*", default=[], help="benchmark result JSONs")
    ap.add_argument("--published", help="config/paper_values CSV (not for unsupervised)")
    ap.add_argument("--spec", required=True, help="JSON table spec")
    ap.add_argument("--table", required=True, help="output stem (.csv, .md, .tex)")
    ap.add_argument("--figure", help="output stem (.png, .svg); sweep, unsupervised, distillation")
    ap.add_argument("--caption", default="")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    spec = json.loads(args.spec)
    results = index_results(args.results)
    log.info("%d results, kind %s", len(results), args.kind)
    # Figures the paper prints no numbers for (kaiko Figs. 1 and 4) have no published CSV.
    published = read_published(args.published) if args.published else pd.DataFrame(columns=["row"])
    if args.kind in ("table", "sweep"):
        table = comparison_table(results, published, spec, spec.get("contracts"))
        if args.kind == "sweep":
            if not args.figure:
                ap.error("--kind sweep needs --figure")
            not_run = [r["label"] for r in spec["rows"] if not r.get("model")]
            sweep_figure(sweep_values(results, spec["rows"], spec.get("cells", {})), args.figure,
                         args.caption, not_run)
    elif args.kind == "unsupervised":
        if not args.figure:
            ap.error("--kind unsupervised needs --figure")
        table = unsupervised_values(results, spec["models"], spec["tasks"])
        unsupervised_figure(table, args.figure, args.caption)
    else:
        table = distillation_table(results, published, spec)
        if args.figure:
            metric = spec["metrics"].get("balanced_accuracy", "balanced_accuracy")
            cells = {c: f"{p}/{metric}" for c, p in spec.get("cells", {}).items() if p}
            not_run = [r["label"] for r in spec["rows"] if not r.get("model")]
            sweep_figure(sweep_values(results, spec["rows"], cells), args.figure, args.caption,
                         not_run)
    if table.empty:
        table = pd.DataFrame([{"model": NOT_RUN}])
    write_table(table, args.table, caption=args.caption)
    log.info("wrote %s (%d rows)", args.table, len(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
