"""Download (and verify) a public benchmark dataset, then check that its loader reads it.

    pathfm fetch-dataset --dataset crc --root results/datasets/crc
    pathfm fetch-dataset --dataset pcam --root results/datasets/pcam
    pathfm fetch-dataset --dataset plism --root results/datasets/plism --stainings GMH GIVH --scanners AT2 S60
    pathfm fetch-dataset --dataset hest --root results/datasets/hest --tasks IDC PRAD

Datasets behind a form or a login (MHIST, PANDA slides, Camelyon16, CoNSeP, MoNuSAC)
print where to get them and only check the layout. Hub datasets use HF_TOKEN.
"""

from __future__ import annotations

import argparse
import logging

from pathfm.sources.datasets import DATASETS
from pathfm.sources.datasets.fetch import (DEFAULT_MAX_MEMBERS, DEFAULT_MAX_UNPACKED_BYTES, DatasetError,
                                           fetch_resources)
from pathfm.sources.download import add_deadline_option, deadline_seconds
from pathfm.sources.hub import WeightsUnavailable, fetch_weights

log = logging.getLogger("pathfm.scripts")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    ap.add_argument("--root", required=True, help="dataset folder")
    ap.add_argument("--url-prefix", help="fetch resources from this mirror ({prefix}/{filename}) instead")
    ap.add_argument("--stainings", nargs="+", help="PLISM: stainings to fetch (default all 13)")
    ap.add_argument("--scanners", nargs="+", help="PLISM: scanners to fetch (default all 7)")
    ap.add_argument("--tasks", nargs="+", help="HEST: tasks to fetch (default all)")
    ap.add_argument("--endpoint", help="hub endpoint (default HF_ENDPOINT or huggingface.co)")
    ap.add_argument("--max-unpacked-gib", type=float, default=DEFAULT_MAX_UNPACKED_BYTES / 2**30,
                    help="largest total size one archive may expand to (GiB)")
    ap.add_argument("--max-members", type=int, default=DEFAULT_MAX_MEMBERS,
                    help="most members one archive may hold")
    add_deadline_option(ap)
    args = ap.parse_args(argv)
    if not args.max_unpacked_gib > 0 or args.max_members < 1:
        ap.error("--max-unpacked-gib and --max-members must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mod = DATASETS[args.dataset]
    try:
        if args.dataset in ("plism", "hest"):
            _fetch_hub(mod, args)
        elif mod.RESOURCES:
            fetch_resources(mod.RESOURCES, args.root, url_prefix=args.url_prefix,
                            max_unpacked_bytes=int(args.max_unpacked_gib * 2**30),
                            max_members=args.max_members,
                            deadline_s=deadline_seconds(args.deadline_hours))
        if args.dataset == "pcam":
            for split in ("train", "val", "test"):
                log.info("pcam %s: %d patches", split, len(mod.load(args.root, split)[1]))
        elif args.dataset == "plism":
            log.info("plism: %d slides", len(mod.list_slides(args.root)))
        elif args.dataset == "hest":
            log.info("hest: tasks present %s", [t for t in (args.tasks or mod.TASKS)])
        else:
            df = mod.load(args.root)
            log.info("%s: %d samples, splits %s", args.dataset, len(df), df["split"].value_counts().to_dict())
    except (DatasetError, WeightsUnavailable, FileNotFoundError) as err:
        log.error("%s", err)
        return 2
    return 0


def _fetch_hub(mod, args) -> None:
    import huggingface_hub

    if args.dataset == "plism":
        patterns = mod.slide_files(args.stainings, args.scanners)
    else:
        patterns = [f"{t}/{sub}" for t in (args.tasks or mod.TASKS)
                    for sub in ("var_50genes.json", "splits/*", "patches/*.h5", "adata/*")]
    # fetch_weights wraps hub errors into one actionable message; reuse it for datasets.
    try:
        huggingface_hub.snapshot_download  # noqa: B018 — fail early if the hub client is missing
        fetch_weights(args.dataset, mod.HUB_ID, None, None, out_dir=args.root, endpoint=args.endpoint,
                      repo_type="dataset", allow_patterns=patterns)
    except WeightsUnavailable as err:
        raise WeightsUnavailable(str(err).replace("config/models.yaml", "the dataset root")) from err


if __name__ == "__main__":
    raise SystemExit(main())
