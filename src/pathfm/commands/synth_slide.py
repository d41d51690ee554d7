"""Synthesise one demo slide (pyramidal TIFF) and its ground truth.

Example::

    pathfm synth-slide --slide-id demo-001 --seed 1 \\
        --params '{"width_um": 2000, "height_um": 1400}' \\
        --slide results/slides/demo/demo-001.svs --truth-dir results/truth/demo/demo-001
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from pathfm.wsi.synth import SynthParams, synthesize_slide

log = logging.getLogger("synth_slide")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slide-id", required=True, help="identifier written into truth.json")
    p.add_argument("--seed", required=True, type=int, help="seed of the slide")
    p.add_argument(
        "--params", required=True,
        help="JSON object of SynthParams fields, e.g. '{\"width_um\": 500}' (default {})",
    )
    p.add_argument("--slide", required=True, help="output slide path (.svs for the Aperio layout)")
    p.add_argument("--truth-dir", required=True, help="output folder for the truth maps and truth.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        values = json.loads(args.params)
    except json.JSONDecodeError as err:
        raise SystemExit(f"--params is not valid JSON ({err}): {args.params!r}") from None
    if not isinstance(values, dict):
        raise SystemExit(f"--params must be a JSON object, got {args.params!r}")
    try:
        params = SynthParams.from_dict(values)
    except (TypeError, ValueError) as err:
        raise SystemExit(f"--params: {err}") from None
    t0 = time.perf_counter()
    meta = synthesize_slide(
        args.slide, args.truth_dir, slide_id=args.slide_id, seed=args.seed, params=params
    )
    log.info(
        "slide %s (seed %d): %dx%d px at %.4f µm/px, tissue %.1f %%, artefacts %s -> %s, truth in %s; %.1f s",
        args.slide_id, args.seed, meta["width"], meta["height"], meta["mpp"],
        100 * meta["tissue_fraction"], [a["type"] for a in meta["artefacts"]] or "none",
        args.slide, args.truth_dir, time.perf_counter() - t0,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
