"""Write the resolved config (YAML) and the software versions (text) for the HTML report.

Example::

    pathfm provenance --config '{"results": "results"}' \\
        --config-out results/provenance/config.yaml --versions-out results/provenance/versions.txt
"""

from __future__ import annotations

import argparse
import json
import logging
from html import escape

import yaml

from pathfm.io import atomic_path
from pathfm.report.provenance import software_versions
from pathfm.version import code_version

log = logging.getLogger("provenance")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="resolved config as JSON")
    ap.add_argument("--config-out", required=True)
    ap.add_argument("--versions-out", required=True)
    ap.add_argument("--html-out", help="both as one HTML page (the report displays HTML)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config_text = yaml.safe_dump(json.loads(args.config), sort_keys=False)
    versions_text = "\n".join([f"code version: {code_version()}", *software_versions()]) + "\n"
    with atomic_path(args.config_out) as tmp:
        tmp.write_text(config_text)
    with atomic_path(args.versions_out) as tmp:
        tmp.write_text(versions_text)
    if args.html_out:
        with atomic_path(args.html_out) as tmp:
            tmp.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                           f"<h3>Software versions</h3><pre>{escape(versions_text)}</pre>"
                           f"<h3>Resolved config</h3><pre>{escape(config_text)}</pre></body></html>\n")
    log.info("wrote %s and %s", args.config_out, args.versions_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
