"""Render the demo slide-task cohort (labels, survival, tiles, nuclei masks, retrieval ROIs)."""

import argparse

from pathfm.demo_slide_tasks.cohort import build_cohort


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="output folder (written atomically)")
    ap.add_argument("--n-slides", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--mpp", type=float, required=True, help="µm per pixel of the rendered sections")
    ap.add_argument("--size-um", type=float, required=True, help="side of each square section")
    ap.add_argument("--tile-px", type=int, required=True)
    a = ap.parse_args(argv)
    table = build_cohort(a.out, a.n_slides, a.seed, a.mpp, a.size_um, a.tile_px)
    print(table.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
