"""Register one PLISM slide to the reference slide (rigid → affine → B-spline, SimpleITK).

Example::

    pathfm plism-register --reference results/plism/demo_plism/slides/GMH_S60.svs \\
        --moving results/plism/demo_plism/slides/GVH_AT2.svs --slide-id GVH_AT2 --mpp 2.0 \\
        --params '{"bspline_grid_um": 64}' --ground-truth results/plism/demo_plism/ground_truth.json \\
        --tfm results/plism/demo_plism/transforms/GVH_AT2.tfm \\
        --qc results/plism/demo_plism/transforms/GVH_AT2.qc.png \\
        --info results/plism/demo_plism/transforms/GVH_AT2.json --tile-mpp 0.5

Both slides are read whole at ``--mpp`` µm/px. The transform maps reference µm to
moving µm. When the moving slide is the reference itself (``--identity``) an identity
transform is written. With ``--ground-truth`` the info JSON holds the target
registration error (TRE) in pixels of ``--tile-mpp`` tiles. The info JSON holds no
wall-clock times (they go to the log), so with ``threads: 1`` it repeats byte for byte.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np
import SimpleITK as sitk

from pathfm.io import write_json_atomic
from pathfm.params import from_dict
from pathfm.version import code_version
from pathfm.wsi.registration import (
    RegistrationParams,
    register_images,
    save_transform,
    target_registration_error,
    write_qc_png,
)
from pathfm.wsi.slide import open_slide
from pathfm.wsi.synth_plism import ground_truth_points

log = logging.getLogger("plism_register")


def registration_params(text: str) -> RegistrationParams:
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(text).items()}
    return from_dict(RegistrationParams, values, "registration")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="reference slide (GMH_S60)")
    ap.add_argument("--moving", required=True, help="slide to register")
    ap.add_argument("--slide-id", required=True)
    ap.add_argument("--identity", action="store_true", help="the moving slide is the reference")
    ap.add_argument("--mpp", type=float, required=True, help="µm/px of the registration images")
    ap.add_argument("--params", required=True, help="JSON of RegistrationParams fields")
    ap.add_argument("--ground-truth", help="ground_truth.json of a synthetic set (for the TRE)")
    ap.add_argument("--tile-mpp", type=float, required=True, help="TRE unit: pixels at this mpp")
    ap.add_argument("--tfm", required=True, help="output transform (.tfm)")
    ap.add_argument("--qc", required=True, help="output QC image (.png)")
    ap.add_argument("--info", required=True, help="output info JSON")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    params = registration_params(args.params)
    t0 = time.perf_counter()
    with open_slide(args.reference) as ref_slide, open_slide(args.moving) as mov_slide:
        ref = ref_slide.read_whole_mpp(args.mpp)
        mov = mov_slide.read_whole_mpp(args.mpp)
    if args.identity:
        transform, info = sitk.Transform(2, sitk.sitkIdentity), {"identity": True}
    else:
        transform, info = register_images(ref, args.mpp, mov, args.mpp, params)
    info.update(slide_id=args.slide_id, reference=args.reference, moving=args.moving,
                mpp=args.mpp, image_shape=list(ref.shape[:2]), code_version=code_version())
    if args.ground_truth:
        with open(args.ground_truth) as f:
            truth = json.load(f)
        ref_pts, mov_pts = ground_truth_points(truth, args.slide_id)
        before = np.linalg.norm(ref_pts - mov_pts, axis=1) / args.tile_mpp
        info["tre"] = target_registration_error(transform, ref_pts, mov_pts, args.tile_mpp)
        info["tre_before_median_px"] = float(np.median(before))
        log.info("TRE %s (before: median %.1f px)", info["tre"], info["tre_before_median_px"])
    save_transform(transform, args.tfm)
    write_qc_png(ref, args.mpp, mov, args.mpp, transform, args.qc)
    write_json_atomic(args.info, info)
    # The time is logged, not written: the info JSON repeats byte for byte (threads: 1).
    log.info("%s registered in %.1f s", args.slide_id, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
