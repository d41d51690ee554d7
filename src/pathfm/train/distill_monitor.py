"""Teacher–student similarity of embeddings over training, on a fixed batch of tiles.

Teacher and student embeddings usually differ in width (H-Optimus-0 1,536 vs
H0-mini 768; 128 vs 64 in the demo), so a per-image cosine is not defined. The
monitor compares what both models say about the *same images*: for a fixed batch
of n tiles, the n×n cosine-similarity matrix of each model's CLS embeddings, and
then the cosine between the two matrices' off-diagonal entries after subtracting
their means (a representational-similarity cosine; 1 = both models order every
pair of images alike, 0 = unrelated). Centring matters: every ViT's CLS tokens
share a common direction, which makes uncentred matrices look alike for any two
models.

H0-mini runs also log ``teacher_student_head_cos``: the mean per-image cosine of
the student's DINO probabilities and the teacher's targets, in the prototype space
the two heads share (see ``H0MiniDistillTask.head_agreement``).

Logged as ``teacher_student_cos`` records (``{"step", "teacher_student_cos",
"monitor_reference"}``) in the run's log.jsonl at step 0 and every ``log_every``
steps, and summarised (first, last) in the exported card. The tiles are a fixed,
evenly spaced sample of the training stores (the tile stores have no held-out
split); the number measures agreement, not generalisation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from pathfm.data.tile_dataset import TileStoreCrops


def similarity_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """a (n, Da), b (n, Db) -> cosine of the centred off-diagonal pairwise-cosine entries."""
    if a.shape[0] != b.shape[0] or a.shape[0] < 3:
        raise ValueError(f"need the same n >= 3 images on both sides; got {a.shape}, {b.shape}")

    def pairs(x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(x.float(), dim=-1)
        sim = x @ x.t()
        off = ~torch.eye(len(x), dtype=torch.bool, device=x.device)
        v = sim[off]
        return v - v.mean()

    return float(F.cosine_similarity(pairs(a), pairs(b), dim=0))


def fixed_tiles(dataset: TileStoreCrops, n: int) -> np.ndarray:
    """(n, H, W, 3) uint8: the first tile of n chunks evenly spaced over all stores."""
    chunks = dataset.chunks
    picks = np.unique(np.linspace(0, len(chunks) - 1, min(n, len(chunks))).astype(int))
    tiles = [dataset._read(chunks[i])[0] for i in picks]
    if len(tiles) < n:  # fewer chunks than n: take more tiles of each chunk
        per = -(-n // len(picks))
        tiles = [t for i in picks for t in dataset._read(chunks[i])[:per]][:n]
    return np.stack(tiles)


def to_batch(tiles: np.ndarray, size: int, mean, std) -> torch.Tensor:
    """uint8 (n, H, W, 3) -> (n, 3, size, size) float, resized whole and normalised."""
    x = torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 255.0
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    m = torch.tensor(mean, dtype=x.dtype)[:, None, None]
    s = torch.tensor(std, dtype=x.dtype)[:, None, None]
    return (x - m) / s


class SimilarityMonitor:
    """Writes ``teacher_student_cos`` of ``student_cls(batch)`` vs ``reference(batch)`` to log.jsonl.

    ``reference``: a FrozenEncoder (teacher or expert) returning ``{"cls": ...}``;
    ``student_cls``: callable images -> (n, D) CLS embeddings of the model to be exported.
    """

    def __init__(self, reference: nn.Module, reference_name: str, student_cls, batch: torch.Tensor,
                 every: int, log_path: Path, head_agreement=None):
        self.reference, self.name, self.student_cls = reference, reference_name, student_cls
        self.batch, self.every, self.log_path = batch, every, Path(log_path)
        self.head_agreement = head_agreement  # images -> float, or None
        self._ref_cls: torch.Tensor | None = None

    @torch.no_grad()
    def measure(self) -> float:
        device = next(self.reference.parameters()).device
        x = self.batch.to(device)
        if self._ref_cls is None:
            self._ref_cls = self.reference(x)["cls"]
        return similarity_cosine(self.student_cls(x), self._ref_cls)

    def write(self, step: int) -> None:
        record = {"step": step, "teacher_student_cos": self.measure(),
                  "monitor_reference": self.name}
        if self.head_agreement is not None:
            with torch.no_grad():
                device = next(self.reference.parameters()).device
                record["teacher_student_head_cos"] = self.head_agreement(self.batch.to(device))
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def on_step(self, step: int, terms: dict) -> None:
        if step % self.every == 0:
            self.write(step)

    def start(self) -> None:
        """Step-0 record, unless a resumed run already has one."""
        if not any(r.get("step") == 0 for r in read_records(self.log_path)):
            self.write(0)


def read_records(log_path: Path) -> list[dict]:
    """The ``teacher_student_cos`` records of a log.jsonl (empty when none)."""
    path = Path(log_path)
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if "teacher_student_cos" in r]


def card_summary(log_path: Path) -> dict | None:
    """``{reference, first, last, steps}`` of the monitor records, for the model card."""
    recs = read_records(log_path)
    if not recs:
        return None
    recs.sort(key=lambda r: r["step"])
    out = {"reference": recs[-1]["monitor_reference"], "first": recs[0]["teacher_student_cos"],
           "last": recs[-1]["teacher_student_cos"], "first_step": recs[0]["step"],
           "last_step": recs[-1]["step"]}
    if "teacher_student_head_cos" in recs[0]:
        out["head_first"] = recs[0]["teacher_student_head_cos"]
        out["head_last"] = recs[-1]["teacher_student_head_cos"]
    return out


def build_monitor(cfg: dict, task: nn.Module, data, out_dir: Path, log_every: int,
                  info) -> SimilarityMonitor | None:
    """The monitor of a resolved run config, or None (monitor off, no reference model, or
    training data that does not read tile stores, e.g. synthetic batches)."""
    from pathfm.models.registry import get_entry
    from pathfm.train.distill_config import monitor_reference
    from pathfm.train.frozen_encoder import load_frozen

    name, weights = monitor_reference(cfg)
    dataset = getattr(data, "dataset", None)
    if name is None or not isinstance(dataset, TileStoreCrops):
        return None
    m = cfg["monitor"]
    reference = task.reference_encoders().get(name)
    if reference is None:
        registry = cfg.get("registry") or cfg.get("ssl", {}).get("registry")
        reference, _ = load_frozen(get_entry(name, registry), weights, task.entry.contract)
        reference = reference.to(info.device)
    contract = task.entry.contract
    batch = to_batch(fixed_tiles(dataset, m["n_images"]), cfg["crops"]["global_size"],
                     contract.mean, contract.std)
    # H0-mini also logs agreement in the heads' shared prototype space, when the
    # reference is its teacher (``H0MiniDistillTask.head_agreement``).
    agreement = getattr(task, "head_agreement", None) if reference is getattr(
        task, "teacher", None) else None
    return SimilarityMonitor(reference, name, task.exported_cls, batch,
                             m["every"] or log_every, Path(out_dir) / "log.jsonl", agreement)
