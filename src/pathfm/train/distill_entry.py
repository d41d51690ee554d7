"""One call that a distillation script makes: config + tile stores -> trained, exported model.

``distill_from_tiles`` resolves the run config (method h0mini | gpfm), starts
torch.distributed when launched by torchrun, builds the multi-crop batches from
the tile stores of the slides in a manifest (normalised with the student's
mean/std, ``global_batch_size`` split over ranks, in micro-batches of
``micro_batch_size`` when set) and runs the method.
"""

from __future__ import annotations

from pathlib import Path

from pathfm.data.tile_dataset import tile_batches
from pathfm.manifest import read_manifest
from pathfm.models.registry import get_entry
from pathfm.train import ddp
from pathfm.train.distill_config import rank_batches, resolve_distill_config


def tile_stores_of(manifest: str | Path, tiles_dir: str | Path) -> list[Path]:
    """``tiles_dir/{slide_id}.zarr`` for every slide of the manifest; all must exist."""
    stores = [Path(tiles_dir) / f"{s}.zarr" for s in read_manifest(manifest)["slide_id"]]
    missing = [str(p) for p in stores if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} tile store(s) of {manifest} are missing, e.g. "
                                f"{missing[:3]}: run the tiles rule first")
    return stores


def distill_from_tiles(config: dict, manifest: str | Path, tiles_dir: str | Path,
                       out_dir: str | Path, export_dir: str | Path,
                       slides_dir: str | Path | None = None, resume: bool = True) -> dict:
    """Train ``config`` on the manifest's tile stores; returns paths of weights and card."""
    cfg = resolve_distill_config(config)
    info = ddp.init_distributed()
    if cfg["method"] == "h0mini":
        from pathfm.train.distill import run

        student, registry, seed = cfg["student"], cfg["registry"], cfg["seed"]
        cfg["data_manifest"] = str(manifest)
    else:
        from pathfm.train.gpfm import run

        ssl = cfg["ssl"]
        student, registry, seed = ssl["model"], ssl["registry"], ssl["seed"]
        ssl["data_manifest"] = str(manifest)
    # The loader yields micro-batches; the loop draws per-rank batch / micro of them a step.
    _, batch = rank_batches(cfg, info.world_size)
    contract = get_entry(student, registry).contract
    data = tile_batches(tile_stores_of(manifest, tiles_dir), cfg["crops"], contract.mean,
                        contract.std, batch, seed=seed, rank=info.rank,
                        world_size=info.world_size, shuffle_chunks=cfg["data"]["shuffle_chunks"],
                        num_workers=cfg["data"]["num_workers"], slides_dir=slides_dir)
    try:
        return run(cfg, data, Path(out_dir), resume=resume, export_dir=Path(export_dir),
                   info=info)
    finally:
        ddp.cleanup()
