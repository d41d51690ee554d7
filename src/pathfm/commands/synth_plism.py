"""Render a synthetic PLISM-like set: one TMA under every staining × scanner, known warps.

Example::

    pathfm synth-plism --out-dir results/plism/demo_plism \\
        --stainings GMH GIVH GVH --scanners AT2 GT450 P S210 S360 S60 SQ \\
        --reference GMH_S60 --seed 7 --params '{"rows": 2, "cols": 3}'

Writes ``{out-dir}/slides/{staining}_{scanner}.svs`` and ``{out-dir}/ground_truth.json``
(each slide's warp, for the registration error).
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from pathfm.wsi.synth_plism import render_plism_set

log = logging.getLogger("synth_plism")
# Keyword arguments of render_plism_set that --params may set.
PARAM_KEYS = ("rows", "cols", "punch_radius_um", "pitch_um", "margin_um", "mpp", "density_mpp",
              "warp_kwargs")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", required=True, help="set folder (slides/ and ground_truth.json)")
    ap.add_argument("--stainings", nargs="+", required=True)
    ap.add_argument("--scanners", nargs="+", required=True)
    ap.add_argument("--reference", required=True, help="slide id of the reference (no warp)")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--params", required=True, help=f"JSON object with any of {PARAM_KEYS}")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    params = json.loads(args.params)
    unknown = sorted(set(params) - set(PARAM_KEYS))
    if unknown:
        raise SystemExit(f"--params: unknown key(s) {unknown}; known: {list(PARAM_KEYS)}")
    st, sc = args.reference.split("_", 1)
    if st not in args.stainings or sc not in args.scanners:
        raise SystemExit(f"the reference {args.reference} must be one of the rendered slides "
                         f"(stainings {args.stainings}, scanners {args.scanners})")
    t0 = time.perf_counter()
    truth = render_plism_set(args.out_dir, args.stainings, args.scanners,
                             reference=args.reference, seed=args.seed, **params)
    log.info("rendered %d slides of %.0f × %.0f µm in %.1f s", len(truth["slides"]),
             *truth["size_um"], time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
