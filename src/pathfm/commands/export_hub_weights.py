"""Convert weights fetched by pathfm fetch-weights into results/models/{model}/weights.safetensors.

    pathfm export-hub-weights --model h0-mini --record results/models/h0-mini/fetch.json \
        --out results/models/h0-mini/weights.safetensors
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.embed.hub_weights import export_hub_weights
from pathfm.models.registry import get_entry

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--registry", help="registry YAML (default config/models.yaml)")
    ap.add_argument("--record", required=True, help="fetch_weights.py --record JSON (has the downloaded path)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    downloaded = json.loads(open(args.record).read())["path"]
    try:
        out = export_hub_weights(get_entry(args.model, args.registry), downloaded, args.out)
    except (NotImplementedError, ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        return 2
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
