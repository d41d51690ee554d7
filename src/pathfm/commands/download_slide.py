"""Download one slide (or any file) resumably and verify its md5.

From a manifest row:
    pathfm download-slide --manifest results/manifests/tcga_h0mini.tsv \
        --slide-id TCGA-XX-... --api https://api.gdc.cancer.gov [--report r.json]
Or explicitly:
    pathfm download-slide --url URL --dest PATH --md5 HEX [--size N]

The optional GDC token is read from the GDC_TOKEN environment variable only.
"""

from __future__ import annotations

import argparse
import logging
from pathfm.io import write_json_atomic
from pathfm.manifest import read_manifest
from pathfm.sources.download import (add_deadline_option, deadline_seconds, download_file,
                                     download_record)
from pathfm.sources.gdc import GDC_API
from pathfm.sources.http import RetryPolicy, token_from_env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", help="manifest TSV with slide_id, path, md5, file_id, size")
    ap.add_argument("--slide-id", help="row of --manifest to fetch")
    ap.add_argument("--api", help=f"GDC API base URL, e.g. {GDC_API} (data endpoint: "
                    "{api}/data/{file_id}); needed with --manifest")
    ap.add_argument("--url", help="explicit source URL (instead of --manifest)")
    ap.add_argument("--dest", help="explicit destination path (instead of --manifest)")
    ap.add_argument("--md5", help="expected md5 (with --url)")
    ap.add_argument("--size", type=int, help="expected size in bytes (with --url)")
    ap.add_argument("--max-attempts", type=int, default=8)
    ap.add_argument("--backoff", type=float, default=2.0, help="seconds before the 2nd attempt; doubles")
    ap.add_argument("--report", help="write a JSON report (bytes transferred, attempts, MB/s)")
    add_deadline_option(ap)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.manifest:
        if not args.slide_id or not args.api:
            ap.error("--manifest needs --slide-id and --api")
        df = read_manifest(args.manifest)
        rows = df[df["slide_id"] == args.slide_id]
        if rows.empty:
            ap.error(f"slide {args.slide_id!r} not in {args.manifest}")
        row = rows.iloc[0]
        url = f"{args.api.rstrip('/')}/data/{row['file_id']}"
        dest, md5 = row["path"], row["md5"]
        size = int(row["size"]) if "size" in row and str(row["size"]) not in ("", "nan") else None
    else:
        if not (args.url and args.dest and args.md5):
            ap.error("give --manifest and --slide-id, or --url, --dest and --md5")
        url, dest, md5, size = args.url, args.dest, args.md5, args.size

    policy = RetryPolicy(max_attempts=args.max_attempts, backoff_base=args.backoff)
    result = download_file(url, dest, md5=md5, size=size, token=token_from_env("GDC_TOKEN"),
                           policy=policy, progress=True, deadline_s=deadline_seconds(args.deadline_hours))
    if args.report:
        write_json_atomic(args.report, download_record(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
