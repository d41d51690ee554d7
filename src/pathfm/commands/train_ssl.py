"""DINO / DINOv2 pre-training on patches read online from whole-slide images (kaiko.ai recipe).

    pathfm train-ssl --model demo-vit-s8 \
        --manifests results/manifests/demo.tsv --mask-dirs results/masks/demo --mpp-policy fallback \
        --ssl '{"objective": "dino", "steps": 300, "batch_size": 32}' \
        --patching '{"patch_px": 96, "mpps": [2.0, 1.0, 0.5]}' \
        --multicrop '{"global_size": 64, "local_size": 32, "n_local": 4}' --epochs '{}' \
        --out-dir results/train/demo-vit-s8 --export-dir results/models/demo-vit-s8

Several processes (one per GPU; two on CPU use gloo)::

    pathfm launch --gpus 4 -- train-ssl ...   # torchrun --standalone ... -m pathfm train-ssl

Checkpoints go to OUT_DIR/checkpoints and a rerun resumes from the last one. After
SIGTERM / SIGUSR1 the process writes a checkpoint and exits with 75 (requeue).
"""

from __future__ import annotations

import argparse
import json
import logging

from pathfm.cli import json_object, setup_logging
from pathfm.data.online_patching import OnlinePatchingConfig
from pathfm.data.online_ssl import build_loader, multicrop_config, resolve_ssl_config
from pathfm.data.patch_sampling import build_slide_index
from pathfm.train import ddp
from pathfm.train.ssl import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="registry model (architecture, contract)")
    parser.add_argument("--registry", help="models.yaml (default: config/models.yaml)")
    parser.add_argument("--manifests", nargs="+", required=True, help="cohort manifests (TSV)")
    parser.add_argument("--mask-dirs", nargs="+", required=True,
                        help="one folder per manifest holding {slide_id}/tissue.geojson")
    parser.add_argument("--mpp-policy", required=True, choices=["fallback", "force"])
    parser.add_argument("--ssl", type=json_object, required=True, help="pathfm.train.ssl config")
    parser.add_argument("--epochs", type=json_object, required=True,
                        help="lengths in epochs: total, warmup, freeze_last_layer, "
                             "teacher_temp_warmup")
    parser.add_argument("--patching", type=json_object, required=True, help="OnlinePatchingConfig")
    parser.add_argument("--multicrop", type=json_object, required=True, help="MultiCropConfig")
    parser.add_argument("--init", help="weights file to start from (default: the ssl config's)")
    parser.add_argument("--out-dir", required=True, help="checkpoints and log.jsonl")
    parser.add_argument("--export-dir", required=True, help="weights.safetensors + card.yaml")
    parser.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    args = parser.parse_args(argv)
    if len(args.manifests) != len(args.mask_dirs):
        parser.error("give one --mask-dirs folder per --manifests file")
    setup_logging()

    info = ddp.init_distributed()
    patching = OnlinePatchingConfig.from_dict(args.patching)
    ssl = {**args.ssl, "model": args.model, "registry": args.registry,
           "data_manifest": list(args.manifests)}
    if args.init:
        ssl["init"] = args.init
    cfg = resolve_ssl_config(ssl, args.epochs, patching.epoch_patches, info.world_size)
    crops = multicrop_config(args.multicrop, args.model, args.registry)
    slides = build_slide_index(args.manifests, args.mask_dirs, args.mpp_policy)
    logging.info("rank %d/%d: %d slides, %d steps of %d patches per rank; patching %s",
                 info.rank, info.world_size, len(slides), cfg["steps"], cfg["batch_size"],
                 json.dumps(patching.to_dict()))
    loader = build_loader(slides, cfg, patching, crops, info.rank, info.world_size)
    result = run(cfg, loader, args.out_dir, resume=not args.no_resume,
                 export_dir=args.export_dir, info=info)
    logging.info("done: %s", {k: str(v) for k, v in result.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
