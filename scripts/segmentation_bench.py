"""Nucleus segmentation with a frozen registry backbone and eva's conv decoder -> result JSON.

Inputs: npz files with ``rgb`` (H, W, 3) uint8 and ``nuclei`` (H, W) class masks
(pathfm.demo_slide_tasks or a converted CoNSeP/MoNuSAC image), listed per split.
"""

import argparse

import numpy as np

from pathfm.bench.segmentation import SegProtocol, backbone_feature_maps, run_segmentation, sliding_windows
from pathfm.bench.slide_result import build_result, write_result
from pathfm.models import Backbone, get_entry, load_model


def windows(paths, size):
    imgs, masks = [], []
    for p in paths:
        z = np.load(p)
        i, m = sliding_windows(z["rgb"], z["nuclei"], size, size)
        imgs.append(i)
        masks.append(m)
    return np.concatenate(imgs), np.concatenate(masks).astype(np.int64)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--val", nargs="+", required=True)
    ap.add_argument("--test", nargs="+", required=True)
    ap.add_argument("--classes", nargs="+", required=True, help="class names, background first")
    ap.add_argument("--model", required=True, help="name in config/models.yaml")
    ap.add_argument("--weights", help="weights file (default: the registry's)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--max-steps", type=int, default=2000)
    ap.add_argument("--no-image-branch", action="store_true")
    ap.add_argument("--task", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    entry = get_entry(a.model)
    c = entry.contract
    backbone = Backbone(load_model(entry, a.weights))
    sets = []
    for paths in (a.train, a.val, a.test):
        imgs, masks = windows(paths, c.input_size)
        feats, norm = backbone_feature_maps(backbone, c.normalize, imgs, c.patch_size)
        sets.append((feats, norm, masks))
    protocol = SegProtocol(max_steps=a.max_steps, with_image=not a.no_image_branch)
    out = run_segmentation(*sets, a.classes, protocol, a.seeds)
    res = build_result("segmentation", a.task, a.model, protocol.name, protocol.to_dict(),
                       out["runs"], out["seeds"], {"train": a.train, "val": a.val, "test": a.test},
                       {"runs": out["details"], "contract": c.to_dict()})
    write_result(a.out, res)
    print({k: v["mean"] for k, v in res["metrics"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
