"""Query the GDC for a cohort's slide images and write its manifest TSV.

    pathfm gdc-manifest --cohort tcga_h0mini --projects TCGA-BRCA TCGA-LUAD ... \
        --strategies "Diagnostic Slide" --n-slides 6093 --seed 0 --stratify project \
        --slides-root results/slides --out results/manifests/tcga_h0mini.tsv

Or read the cohort from a YAML config: --config config/paper.yaml --cohort tcga_h0mini
(keys under ``cohorts.<name>``). GDC_TOKEN, if set, is sent as X-Auth-Token.
"""

from __future__ import annotations

import argparse
import logging

import yaml

from pathfm.manifest import write_manifest
from pathfm.sources.gdc import GDCClient
from pathfm.sources.gdc_manifest import CohortSpec, build_manifest
from pathfm.sources.http import token_from_env

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cohort", required=True, help="cohort name (manifest and slide folder name)")
    ap.add_argument("--config", help="YAML with cohorts.<name>.{projects,strategies,n_slides,seed,stratify}")
    ap.add_argument("--projects", nargs="+", help="GDC project ids, e.g. TCGA-BRCA")
    ap.add_argument("--strategies", nargs="+", default=None,
                    help='"Diagnostic Slide" (FFPE) and/or "Tissue Slide" (FF)')
    ap.add_argument("--n-slides", type=int, help="draw this many slides (default: all)")
    ap.add_argument("--seed", type=int, help="seed of the draw")
    ap.add_argument("--stratify", help="column to keep proportions of when drawing, e.g. project")
    ap.add_argument("--slides-root", default="results/slides", help="slides go to {root}/{cohort}/{slide_id}.svs")
    ap.add_argument("--api", required=True, help="GDC API base URL (config gdc_api)")
    ap.add_argument("--page-size", type=int, default=500)
    ap.add_argument("--out", required=True, help="manifest TSV to write")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    cfg: dict = {}
    if args.config:
        with open(args.config) as f:
            cfg = dict(((yaml.safe_load(f) or {}).get("cohorts") or {}).get(args.cohort) or {})
        if not cfg:
            ap.error(f"{args.config}: no cohorts.{args.cohort} entry")
    for key, value in (("projects", args.projects), ("strategies", args.strategies),
                       ("n_slides", args.n_slides), ("seed", args.seed), ("stratify", args.stratify)):
        if value is not None:
            cfg[key] = value
    spec = CohortSpec.from_config(args.cohort, cfg)
    client = GDCClient(args.api, token=token_from_env("GDC_TOKEN"), page_size=args.page_size)
    df = build_manifest(client, spec, args.slides_root)
    write_manifest(df, args.out)
    log.info("wrote %s (%d slides, %.1f GB)", args.out, len(df), df["size"].sum() / 1e9)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
