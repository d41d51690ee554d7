"""Synthesise one slide: the pyramidal TIFF plus its ground truth."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pathfm.version import __version__
from pathfm.wsi.synth.legend import LEGEND
from pathfm.wsi.synth.params import SynthParams
from pathfm.wsi.synth.render import render
from pathfm.wsi.synth.tissue import synthesize_tissue
from pathfm.wsi.synth.truth import truth_maps
from pathfm.wsi.tiff_writer import write_pyramidal_tiff


def objective_power(mpp: float) -> int:
    """The objective a scanner would report for a level-0 mpp (40x ~ 0.25 µm/px)."""
    return 40 if mpp < 0.375 else 20 if mpp < 0.75 else 10


def _write_atomic(path: Path, data: bytes) -> None:
    # Unique name beside the target, so os.replace is atomic; unlike mkstemp
    # it gets the usual permissions.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def synthesize_slide(
    slide_path: str | os.PathLike,
    truth_dir: str | os.PathLike,
    *,
    slide_id: str,
    seed: int,
    params: SynthParams | None = None,
) -> dict[str, Any]:
    """Make one synthetic H&E slide and its ground truth; deterministic in (seed, params).

    Writes, each atomically, the slide first and ``truth.json`` last:

    - ``slide_path``: JPEG-tiled pyramidal TIFF in ``params.layout``
      (Aperio by default, so name it ``.svs``);
    - ``truth_dir/tissue_mask.png``: (h, w) uint8 0/255 at ``params.truth_mpp``;
    - ``truth_dir/tissue_types.png``: (h, w) uint8 legend codes, same grid;
    - ``truth_dir/truth.json``: the returned metadata.

    Returns:
        The metadata: slide_id, seed, level-0 ``mpp`` (also when the slide does
        not record it), ``width``/``height`` (level-0 px), ``downsamples``,
        ``truth_mpp``, ``truth_width``/``truth_height``, ``truth_scale``
        ([sx, sy]: truth px per level-0 px, exact), ``legend``,
        ``tissue_fraction``, ``type_fractions`` (share of tissue area per type),
        ``artefacts`` (type, ``bbox_level0`` [x0, y0, x1, y1] end-exclusive,
        details), ``params`` and the generator version.
    """
    params = params or SynthParams()
    slide_path = Path(slide_path)
    truth_dir = Path(truth_dir)
    slide_path.parent.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)

    tissue = synthesize_tissue(seed, params)
    rgb = render(tissue, params.stain, params.scanner, seed)
    mpp = tissue.mpp
    write_pyramidal_tiff(
        slide_path, rgb,
        mpp=mpp if params.record_mpp else None,
        layout=params.layout,
        downsamples=params.downsamples,
        jpeg_quality=params.jpeg_quality,
        app_mag=objective_power(mpp) if params.record_mpp else None,
    )
    del rgb
    mask, types = truth_maps(tissue.layout, params.truth_mpp)
    H, W = tissue.shape
    counts = np.bincount(tissue.layout.labels.ravel(), minlength=len(LEGEND))
    n_tissue = int(counts[1:].sum())
    meta: dict[str, Any] = {
        "slide_id": slide_id,
        "seed": int(seed),
        "mpp": mpp,
        "mpp_recorded": params.record_mpp,
        "width": W,
        "height": H,
        "downsamples": list(params.downsamples),
        "truth_mpp": params.truth_mpp,
        "truth_width": int(mask.shape[1]),
        "truth_height": int(mask.shape[0]),
        "truth_scale": [mask.shape[1] / W, mask.shape[0] / H],
        "legend": {str(k): v for k, v in LEGEND.items()},
        "tissue_fraction": n_tissue / (H * W),
        "type_fractions": {
            LEGEND[c]: (int(counts[c]) / n_tissue if n_tissue else 0.0)
            for c in LEGEND if c and counts[c]
        },
        "artefacts": tissue.artefacts,
        "params": params.to_dict(),
        "generator": f"pathfm.wsi.synth {__version__}",
    }
    _write_atomic(truth_dir / "tissue_mask.png", _png(mask))
    _write_atomic(truth_dir / "tissue_types.png", _png(types))
    _write_atomic(truth_dir / "truth.json", (json.dumps(meta, indent=2) + "\n").encode())
    return meta
