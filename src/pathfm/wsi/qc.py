"""QC pictures: per-slide mask overlay and the cohort summary sheet."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from pathfm.io import atomic_path


def mask_overlay(rgb: np.ndarray, mask: np.ndarray, tiles_px: np.ndarray | None = None,
                 tile_size_px: float | None = None) -> np.ndarray:
    """Thumbnail with the tissue contour in green and (optionally) tile outlines in blue."""
    out = rgb.copy()
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (0, 170, 0), max(1, round(min(rgb.shape[:2]) / 300)))
    if tiles_px is not None and tile_size_px:
        for x, y in np.asarray(tiles_px):
            cv2.rectangle(out, (int(x), int(y)), (int(x + tile_size_px), int(y + tile_size_px)),
                          (40, 60, 220), 1)
    return out


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB or grayscale PNG atomically (deterministic bytes for identical pixels)."""
    with atomic_path(path) as tmp:
        image = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".png", image)
        if not ok:
            raise RuntimeError(f"PNG encoding failed for {path}")
        tmp.write_bytes(buf.tobytes())


def read_png(path: str | Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read PNG {path}")
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def summary_sheet(panels: list[dict], out_png: str | Path, title: str) -> None:
    """A grid of QC overlays, each titled with the slide id, tile count and mask IoU if known.

    ``panels``: dicts with ``image`` (RGB array), ``slide_id``, ``n_tiles`` and optionally ``iou``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(panels))
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, panel in zip(axes.ravel(), panels):
        ax.imshow(panel["image"])
        label = f"{panel['slide_id']}\n{panel['n_tiles']} tiles"
        if panel.get("iou") is not None:
            label += f", mask IoU {panel['iou']:.3f}"
        ax.set_title(label, fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
