"""Nucleus segmentation with a frozen registry backbone and eva's conv decoder -> result JSON.

Inputs: npz files with ``rgb`` (H, W, 3) uint8 and ``nuclei`` (H, W) class masks
(the demo cohort's segmentation/*.npz) listed per split, or a public set
(--source consep|monusac --root DIR) read by pathfm.sources.datasets.

    pathfm segmentation-bench --model demo-vit-s8 --weights W.safetensors \
        --train a.npz b.npz --val c.npz --test d.npz --classes background epi ... --task demo_nuclei --out R.json
"""

import argparse

import numpy as np

from pathfm.bench.result import write_result
from pathfm.bench.runs import runs_by_metric
from pathfm.bench.seg_data import SEG_SOURCES, class_names, read_npz, read_public
from pathfm.bench.segmentation import SegProtocol, backbone_feature_maps, run_segmentation, sliding_windows
from pathfm.io import sha256_file
from pathfm.models import Backbone, get_entry, load_model


def windows(pairs, size):
    imgs, masks = zip(*(sliding_windows(rgb, m, size, size) for rgb, m in pairs))
    return np.concatenate(imgs), np.concatenate(masks).astype(np.int64)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=SEG_SOURCES, default="npz")
    ap.add_argument("--root", help="dataset folder (consep, monusac)")
    ap.add_argument("--train", nargs="*", default=[], help="npz files (source npz)")
    ap.add_argument("--val", nargs="*", default=[])
    ap.add_argument("--test", nargs="*", default=[])
    ap.add_argument("--classes", nargs="*", help="class names, background first (default: the set's)")
    ap.add_argument("--model", required=True, help="name in config/models.yaml")
    ap.add_argument("--weights", help="weights file (default: the registry's)")
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--max-steps", type=int, required=True)
    ap.add_argument("--eval-every", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True, help="decoder training batch (windows)")
    ap.add_argument("--no-image-branch", action="store_true")
    ap.add_argument("--overrides-name", required=True, help="name recorded for non-paper settings")
    ap.add_argument("--benchmark", default="segmentation")
    ap.add_argument("--task", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.source == "npz":
        if not (a.train and a.val and a.test and a.classes):
            ap.error("source npz needs --train, --val, --test and --classes")
        splits, val_is_test = {s: read_npz(getattr(a, s)) for s in ("train", "val", "test")}, False
        classes, inputs = a.classes, {"train": a.train, "val": a.val, "test": a.test}
    else:
        if not a.root:
            ap.error(f"source {a.source} needs --root")
        splits, val_is_test = read_public(a.source, a.root)
        classes, inputs = a.classes or class_names(a.source), {"root": a.root}
    entry = get_entry(a.model)
    c = entry.contract
    backbone = Backbone(load_model(entry, a.weights))
    sets = []
    for name in ("train", "val", "test"):
        imgs, masks = windows(splits[name], c.input_size)
        feats, norm = backbone_feature_maps(backbone, c.normalize, imgs, c.patch_size)
        sets.append((feats, norm, masks))
    protocol = SegProtocol(max_steps=a.max_steps, eval_every=a.eval_every, batch_size=a.batch_size,
                          with_image=not a.no_image_branch)
    out = run_segmentation(*sets, classes, protocol, a.seeds)
    runs, skipped = runs_by_metric(out["runs"])
    settings = protocol.to_dict() | {"classes": classes, "val_is_test": val_is_test,
                                     "overrides_name": a.overrides_name}
    provenance = {"inputs": inputs, "weights_path": a.weights,
                  "weights_sha256": sha256_file(a.weights) if a.weights else None, "contract": c.to_dict()}
    res = write_result(a.out, benchmark=a.benchmark, task=a.task, model=a.model, protocol=protocol.name,
                       settings=settings, runs=runs, seeds=out["seeds"], provenance=provenance,
                       skipped_runs=skipped, details={"runs": out["details"],
                                                      "n_windows": [len(s[2]) for s in sets]})
    print({k: v["mean"] for k, v in res["metrics"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
