"""Fetch patient-level labels from the GDC and write them as a tidy TSV keyed by patient.

    pathfm gdc-labels --label survival --projects TCGA-BRCA TCGA-LUAD --api https://api.gdc.cancer.gov --out results/labels/survival.tsv
    pathfm gdc-labels --label tp53 --projects TCGA-BRCA ... --api https://api.gdc.cancer.gov --out results/labels/tp53.tsv [--any-transcript]

GDC_TOKEN, if set, is sent as X-Auth-Token (open data needs none).
"""

from __future__ import annotations

import argparse
import logging

from pathfm.io import atomic_path
from pathfm.sources.gdc import GDCClient
from pathfm.sources.gdc_labels import fetch_survival, fetch_tp53
from pathfm.sources.http import token_from_env

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", choices=["survival", "tp53"], required=True)
    ap.add_argument("--projects", nargs="+", required=True, help="GDC project ids")
    ap.add_argument("--any-transcript", action="store_true",
                    help="TP53: count qualifying impacts on any TP53 transcript, not only the canonical one")
    ap.add_argument("--api", required=True, help="GDC API base URL (config gdc_api)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = GDCClient(args.api, token=token_from_env("GDC_TOKEN"))
    if args.label == "survival":
        df = fetch_survival(client, args.projects)
    else:
        df = fetch_tp53(client, args.projects, canonical_only=not args.any_transcript)
    with atomic_path(args.out) as tmp:
        df.to_csv(tmp, sep="\t", index=False)
    log.info("wrote %s: %d patients", args.out, len(df))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
