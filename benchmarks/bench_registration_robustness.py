"""PLISM registration robustness: TRE before/after the coarse rotation search and OD channel.

    .venv/bin/python benchmarks/bench_registration_robustness.py \\
        --out results/bench_registration_robustness.json

Cases: rotation (0/5/10/15° by default) × stain change (reference staining or
``--staining``) × scanner change with elastic warp (the reference scanner and no elastic
field, or ``--scanner`` and a 5 µm field). Every case also has an anisotropic scale,
a shear and a shift. Each case is registered with two parameter sets, read as the
registration job reads them (``plism_register.registration_params``) on one thread:

* ``demo``: config/config.yaml's ``plism.registration.params``,
* ``paper``: config/paper.yaml's,

each twice: ``before`` (the algorithm without the search, ``rotation_search_deg: 0``,
on the channel the config used before: grey for the demo, haematoxylin for the paper,
whose params are the code defaults) and ``after`` (the settings as they stand). The TRE
is the distance between mapped and true points inside the punches, in pixels of
``--tile-mpp`` tiles. The scene is a synthetic 2 × 2 TMA (pathfm.wsi.synth_plism) read
at ``--mpp`` (2 µm/px, as the workflow registers); ``--punch-radius-um`` sets its size
(90 µm: 280 px images, as tests/wsi/test_registration.py; 150 µm: the demo's 480 px).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import yaml

from pathfm.commands.plism_register import registration_params
from pathfm.wsi.registration import register_images, target_registration_error
from pathfm.wsi.synth.scanner import ScannerParams
from pathfm.wsi.synth.stain import StainParams
from pathfm.wsi.synth_plism import (
    KnownWarp,
    punch_scene,
    render_warped,
    scanner_for,
    staining_for,
    tma_centres,
)

REPO = Path(__file__).resolve().parents[1]
DENSITY_MPP = 0.5
BEFORE_CHANNEL = {"demo": "grey", "paper": "haematoxylin"}


def config_params(name: str) -> dict:
    path = REPO / "config" / ("config.yaml" if name == "demo" else "paper.yaml")
    return dict(yaml.safe_load(path.read_text())["plism"]["registration"]["params"])


def warp_for(rotation_deg: float, centre: float, elastic_um: float) -> KnownWarp:
    th = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    mat = rot @ np.diag([1.03, 0.97]) @ np.array([[1.0, 0.025], [0.0, 1.0]])
    return KnownWarp(matrix=tuple(map(tuple, mat.tolist())), centre=(centre, centre),
                     translation=(14.0, -11.0),
                     elastic_amplitude=(elastic_um, 0.75 * elastic_um),
                     elastic_wavelength=(260.0, 330.0, 300.0, 240.0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="JSON result")
    ap.add_argument("--rotations", type=float, nargs="+", default=[0.0, 5.0, 10.0, 15.0])
    ap.add_argument("--staining", default="GVH", help="staining of the 'stain change' cases")
    ap.add_argument("--scanner", default="AT2", help="scanner of the 'scanner change' cases")
    ap.add_argument("--configs", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    ap.add_argument("--punch-radius-um", type=float, default=90.0)
    ap.add_argument("--mpp", type=float, default=2.0)
    ap.add_argument("--tile-mpp", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)

    radius = args.punch_radius_um
    pitch, margin = 2.55 * radius, 0.55 * radius
    size = 2 * margin + 2 * pitch
    centres = tma_centres(2, 2, pitch, margin)
    h, e = punch_scene(np.random.default_rng(args.seed), (size, size), DENSITY_MPP, centres,
                       radius)
    shape = (int(round(size / args.mpp)),) * 2
    ref = render_warped(h, e, DENSITY_MPP, KnownWarp(), shape, args.mpp, StainParams(),
                        ScannerParams(blur_um=0.0))
    rng = np.random.default_rng(0)
    ang = rng.uniform(0, 2 * np.pi, (len(centres), 64))
    rad = 0.85 * radius * np.sqrt(rng.uniform(0, 1, (len(centres), 64)))
    ref_pts = (centres[:, None] + np.stack([rad * np.cos(ang), rad * np.sin(ang)], -1)
               ).reshape(-1, 2)

    variants = {}
    for name in args.configs:
        after = registration_params(json.dumps({**config_params(name), "threads": 1}))
        before = dataclasses.replace(after, rotation_search_deg=0.0, flips=False,
                                     channel=BEFORE_CHANNEL[name])
        variants[name] = {"before": before, "after": after}

    rows = []
    t_all = time.perf_counter()
    for rotation in args.rotations:
        for stain_change in (False, True):
            for scanner_change in (False, True):
                warp = warp_for(rotation, size / 2, 5.0 if scanner_change else 0.0)
                stain = staining_for(args.staining) if stain_change else StainParams()
                scanner = (scanner_for(args.scanner) if scanner_change
                           else ScannerParams(blur_um=0.0))
                mov = render_warped(h, e, DENSITY_MPP, warp, shape, args.mpp, stain, scanner)
                mx, my = warp.reference_to_moving(ref_pts[:, 0], ref_pts[:, 1])
                mov_pts = np.stack([mx, my], 1)
                for name, pair in variants.items():
                    row = {"rotation_deg": rotation, "stain_change": stain_change,
                           "scanner_elastic_change": scanner_change, "config": name}
                    for when, params in pair.items():
                        t0 = time.perf_counter()
                        tf, info = register_images(ref, args.mpp, mov, args.mpp, params)
                        tre = target_registration_error(tf, ref_pts, mov_pts, args.tile_mpp)
                        row[when] = {"median_px": round(tre["median_px"], 3),
                                     "p95_px": round(tre["p95_px"], 3),
                                     "channel": params.channel,
                                     "search_angle_deg": info.get("search", {}).get(
                                         "angle_deg"),
                                     "seconds": round(time.perf_counter() - t0, 2)}
                    rows.append(row)
                    b, a = row["before"], row["after"]
                    print(f"{rotation:5.1f}° stain {stain_change!s:5} scanner+elastic "
                          f"{scanner_change!s:5} {name:5}  before {b['median_px']:7.2f} / "
                          f"{b['p95_px']:7.2f}  after {a['median_px']:5.2f} / "
                          f"{a['p95_px']:5.2f} px", flush=True)
    result = {"benchmark": "registration_robustness", "image_px": list(shape),
              "mpp": args.mpp, "tile_mpp": args.tile_mpp, "staining": args.staining,
              "scanner": args.scanner, "n_points": int(len(ref_pts)),
              "params": {n: {w: p.to_dict() for w, p in v.items()} for n, v in variants.items()},
              "cases": rows, "seconds": round(time.perf_counter() - t_all, 1),
              "machine": platform.platform()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
