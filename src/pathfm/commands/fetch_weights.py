"""Fetch one model's weights from its hub (or check a local copy) and record their sha256.

    pathfm fetch-weights --model h-optimus-0 --hub-id bioptimus/H-optimus-0 \
        --filename pytorch_model.bin --out-dir results/weights/h-optimus-0 --record results/weights/h-optimus-0.json
    pathfm fetch-weights --model uni --local-path /data/uni/pytorch_model.bin --record ...

The token is read from HF_TOKEN; HF_ENDPOINT selects another hub; exit status 2
with a message naming the model, hub id and variable to set when it cannot be had.
"""

from __future__ import annotations

import argparse
import logging

from pathfm.io import sha256_file, write_json_atomic
from pathfm.sources.hub import WeightsUnavailable, fetch_weights

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model name in config/models.yaml")
    ap.add_argument("--hub-id", help="hub repository id, e.g. bioptimus/H-optimus-0")
    ap.add_argument("--filename", help="one file of the repository (default: the whole snapshot)")
    ap.add_argument("--local-path", help="use this local file or folder instead of the hub")
    ap.add_argument("--revision", help="branch, tag or commit")
    ap.add_argument("--out-dir", help="put the files here instead of the hub cache")
    ap.add_argument("--endpoint", help="hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    ap.add_argument("--record", help="write JSON with model, hub id, path and sha256 of the file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        path = fetch_weights(args.model, args.hub_id, args.filename, args.local_path, revision=args.revision,
                             out_dir=args.out_dir, endpoint=args.endpoint)
    except WeightsUnavailable as err:
        log.error("%s", err)
        return 2
    if args.record:
        write_json_atomic(args.record, {"model": args.model, "hub_id": args.hub_id, "revision": args.revision,
                                        "path": str(path), "sha256": sha256_file(path) if path.is_file() else None})
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
