"""Semantic segmentation with a frozen backbone and eva's light convolutional decoder.

Images and masks are cut into sliding windows of the backbone's input size;
the frozen backbone's patch tokens (a (D, H/p, W/p) map per window) are
computed once and cached; the decoder is trained with eva's softmax Dice loss,
AdamW and a polynomial learning-rate decay, early-stopped on validation mean
Dice, and scored by Dice per class without background and their mean over all
test windows (``pathfm.bench.seg_metrics``).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from pathfm.bench.early_stopping import EarlyStopping
from pathfm.bench.seg_decoder import ConvDecoder, dice_loss, tokens_to_map
from pathfm.bench.seg_metrics import DiceAccumulator


@dataclass
class SegProtocol:
    """eva's CoNSeP/MoNuSAC settings (AdamW 1e-4, PolynomialLR power 0.9, 2,000 steps, patience 34)."""

    name: str = "eva_seg"
    version: str = "eva-0.2-convdecoder-with-image"
    lr: float = 1e-4
    max_steps: int = 2000
    batch_size: int = 64
    eval_every: int = 50            # steps between validation passes
    patience: int = 34              # validation passes without improvement
    with_image: bool = True
    stride_fraction: float = 1.0    # window stride as a fraction of the window size

    def to_dict(self) -> dict:
        return asdict(self)


def window_origins(length: int, size: int, stride: int) -> list[int]:
    """Start offsets covering [0, length) with windows of ``size``; the last one flush with the end."""
    if length < size:
        raise ValueError(f"image side {length} px is smaller than the window ({size} px)")
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def sliding_windows(image: np.ndarray, mask: np.ndarray, size: int, stride: int):
    """(H, W, 3) uint8 image, (H, W) int mask -> ((P, size, size, 3), (P, size, size))."""
    H, W = mask.shape
    imgs, masks = [], []
    for y in window_origins(H, size, stride):
        for x in window_origins(W, size, stride):
            imgs.append(image[y:y + size, x:x + size])
            masks.append(mask[y:y + size, x:x + size])
    return np.stack(imgs), np.stack(masks)


@torch.no_grad()
def backbone_feature_maps(backbone: nn.Module, normalize, images: np.ndarray, patch_size: int,
                          batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """(P, S, S, 3) uint8 -> (feature maps (P, D, S/p, S/p), normalised images (P, 3, S, S))."""
    backbone.eval()
    x = normalize(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0)
    grid = (images.shape[1] // patch_size, images.shape[2] // patch_size)
    feats = [tokens_to_map(backbone(x[i:i + batch_size])["patch"], grid)
             for i in range(0, len(x), batch_size)]
    return torch.cat(feats), x


@torch.no_grad()
def evaluate(decoder: nn.Module, feats: torch.Tensor, images: torch.Tensor, masks: np.ndarray,
             num_classes: int, batch_size: int) -> DiceAccumulator:
    decoder.eval()
    acc = DiceAccumulator(num_classes)
    for i in range(0, len(feats), batch_size):
        pred = decoder(feats[i:i + batch_size], images[i:i + batch_size]).argmax(1).numpy()
        acc.update(pred, masks[i:i + batch_size])
    return acc


def train_decoder(train: tuple, val: tuple, num_classes: int, protocol: SegProtocol,
                  seed: int) -> tuple[nn.Module, dict]:
    """train/val = (feature maps, normalised images, masks (P, S, S)) -> (best decoder, history)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    feats, imgs, masks = train
    target = torch.as_tensor(masks, dtype=torch.long)
    decoder = ConvDecoder(feats.shape[1], num_classes, protocol.with_image)
    opt = torch.optim.AdamW(decoder.parameters(), lr=protocol.lr)
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=protocol.max_steps, power=0.9)
    stopper = EarlyStopping(protocol.patience, best=-1.0,
                            state=copy.deepcopy(decoder.state_dict()), step=0)
    evals = []
    for step in range(1, protocol.max_steps + 1):
        decoder.train()
        idx = torch.randint(0, len(feats), (min(protocol.batch_size, len(feats)),), generator=g)
        loss = dice_loss(decoder(feats[idx], imgs[idx]), target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % protocol.eval_every == 0 or step == protocol.max_steps:
            score = evaluate(decoder, *val, num_classes, protocol.batch_size).mean()
            evals.append({"step": step, "loss": float(loss.detach()), "val_dice_mean": score})
            if stopper.update(score, step, lambda: copy.deepcopy(decoder.state_dict())):
                break
    stopper.restore(decoder)
    return decoder, {"best_step": stopper.best_step, "best_val_dice_mean": stopper.best,
                     "evals": evals}


def run_segmentation(train: tuple, val: tuple, test: tuple, class_names: list[str],
                     protocol: SegProtocol, seeds: list[int]) -> dict:
    """Repeated seeded decoder fits -> {runs: [{dice_<class>, dice_mean}], seeds, details}."""
    runs, details = [], []
    for seed in seeds:
        decoder, info = train_decoder(train, val, len(class_names), protocol, seed)
        acc = evaluate(decoder, *test, len(class_names), protocol.batch_size)
        run = {f"dice_{class_names[c]}": v for c, v in acc.per_class().items()}
        run["dice_mean"] = acc.mean()
        runs.append(run)
        details.append({k: v for k, v in info.items() if k != "evals"} | {"n_evals": len(info["evals"])})
    return {"runs": runs, "seeds": list(seeds), "details": details}
