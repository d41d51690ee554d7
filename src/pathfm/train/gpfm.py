"""GPFM unified knowledge distillation (Ma et al. 2024) — entry point ``run``.

Self-distillation is DINOv2's, exactly as ``pathfm.train.ssl.SSLTask`` with
``objective: dinov2`` computes it (DINO on CLS across global/local crops with
Sinkhorn-Knopp targets, masked iBOT, KoLeo; teacher = EMA of the student, the
exported model). Expert distillation adds, for each frozen expert e (UNI, Phikon,
CONCH in the release; tiny demo models here):

- a projector (MLP, student dim -> expert dim) on the student's final tokens of
  the global crops — the same, masked forward pass the iBOT term uses, so the
  student runs once per step (as GPFM's code does);
- ``ExpertDistillLoss``: 1 − cos on CLS, 0.9·(1 − cos) + 0.1·smooth-L1 on patch
  tokens after resampling the expert's token grid to the student's, weighted per
  expert (``cls_weight`` / ``patch_weight``).

With no experts (``experts: []``) this is DINOv2 alone: GPFM Fig. 8's "without expert
distillation" and the from-scratch twin of a run (``distill_config.from_scratch_config``).

Each expert reads the *unmasked* global crops, renormalised from the student's
mean/std to its own (``FrozenEncoder``), at its own patch size; it never trains,
is never checkpointed and never DDP-wrapped.

    run(config, data, out_dir=Path("results/train/demo-gpfm"),
        export_dir=Path("results/models/demo-gpfm"))
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn as nn

from pathfm.losses import ExpertDistillLoss
from pathfm.models.registry import get_entry
from pathfm.train import ddp
from pathfm.train.distill import fit_and_export
from pathfm.train.distill_config import rank_batches, resolve_distill_config
from pathfm.train.frozen_encoder import FrozenEncoder, load_frozen
from pathfm.train.loop import LoopConfig
from pathfm.train.ssl import SSLTask, StudentTeacherNet, build_schedules


def make_projector(in_dim: int, out_dim: int, hidden_dim: int, nlayers: int) -> nn.Module:
    """Linear (nlayers = 1) or an MLP with GELU between layers, (..., in) -> (..., out)."""
    if nlayers <= 1:
        return nn.Linear(in_dim, out_dim)
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim), nn.GELU()]
    for _ in range(nlayers - 2):
        layers += [nn.Linear(hidden_dim, hidden_dim), nn.GELU()]
    layers.append(nn.Linear(hidden_dim, out_dim))
    return nn.Sequential(*layers)


class GPFMStudent(StudentTeacherNet):
    """StudentTeacherNet's outputs plus, per expert, projected global-crop tokens:
    ``expert_cls[name]`` (G·B, D_e) and ``expert_patch[name]`` (G·B, N, D_e)."""

    def __init__(self, net: StudentTeacherNet, projectors: nn.ModuleDict):
        super().__init__(net.backbone, net.dino_head, net.ibot_head, net.shared_head)
        self.projectors = projectors

    def forward(self, global_crops, local_crops=None, masks=None, ibot_masks=None) -> dict:
        out, g = self.forward_with_tokens(global_crops, local_crops, masks, ibot_masks)
        out["expert_cls"] = {n: proj(g["cls"]) for n, proj in self.projectors.items()}
        out["expert_patch"] = {n: proj(g["patch"]) for n, proj in self.projectors.items()}
        return out


class _Capture:
    """Calls the (DDP-wrapped) student and keeps its last output for the expert terms."""

    def __init__(self, fn):
        self.fn, self.last = fn, None

    def __call__(self, *args):
        self.last = self.fn(*args)
        return self.last


class GPFMTask(SSLTask):
    """DINOv2 task + expert distillation; ``experts`` maps a name to a FrozenEncoder."""

    def __init__(self, cfg: dict, experts: dict[str, FrozenEncoder],
                 info: ddp.DistInfo = ddp.DistInfo()):
        entry = get_entry(cfg["ssl"]["model"], cfg["ssl"]["registry"])
        # The parent builds student, EMA teacher and SSL losses on one device, unwrapped;
        # the student is extended with projectors and only then DDP-wrapped.
        super().__init__(cfg["ssl"], entry, ddp.DistInfo(device=info.device))
        self.gpfm_cfg = cfg
        pc, lc = cfg["projector"], cfg["expert_loss"]
        dim = self.student.backbone.embed_dim
        projectors = nn.ModuleDict({
            name: make_projector(dim, enc.backbone.embed_dim, pc["hidden_dim"], pc["nlayers"])
            for name, enc in experts.items()})
        self.student = GPFMStudent(self.student, projectors).to(info.device)
        spec = {e["model"]: e for e in cfg["experts"]}
        self.expert_losses = nn.ModuleDict({
            name: ExpertDistillLoss(spec[name]["cls_weight"], spec[name]["patch_weight"],
                                    lc["cos_weight"], lc["smooth_l1_weight"],
                                    lc["smooth_l1_beta"], lc["resample"])
            for name in experts})
        object.__setattr__(self, "_student_fwd", _Capture(ddp.wrap_ddp(self.student, info)))
        object.__setattr__(self, "experts", {n: e.to(info.device) for n, e in experts.items()})

    def forward(self, batch: dict, values: dict) -> dict:
        out = super().forward(batch, values)  # DINO + iBOT + KoLeo; one student pass
        s, self._student_fwd.last = self._student_fwd.last, None
        glob = batch["global"]
        p = self.entry.contract.patch_size
        grid = (glob.shape[-2] // p, glob.shape[-1] // p)
        total = glob.new_zeros(())
        for name, expert in self.experts.items():
            e = expert(glob)                                     # no_grad, unmasked crops
            r = self.expert_losses[name](s["expert_cls"][name], s["expert_patch"][name], grid,
                                         e["cls"], e["patch"], expert.grid(*glob.shape[-2:]))
            out[f"expert_{name}_cls"], out[f"expert_{name}_patch"] = r["cls"], r["patch"]
            total = total + r["loss"]
        out["expert"] = total
        out["loss"] = out["loss"] + total
        return out

    def exported_cls(self, x: torch.Tensor) -> torch.Tensor:
        """CLS embeddings (n, D) of the network ``ssl.export`` writes (the monitor's student)."""
        net = self.teacher if self.cfg["export"] == "teacher" else self.student
        return net.backbone(x)["cls"]

    def reference_encoders(self) -> dict[str, FrozenEncoder]:
        return dict(self.experts)


def build_experts(cfg: dict) -> dict[str, FrozenEncoder]:
    """Load every expert named in ``cfg['experts']`` (frozen, own contract)."""
    registry = cfg["ssl"]["registry"]
    student = get_entry(cfg["ssl"]["model"], registry)
    experts = {}
    for spec in cfg["experts"]:
        enc, _ = load_frozen(get_entry(spec["model"], registry), spec["weights"],
                             student.contract, spec["input_size"])
        experts[spec["model"]] = enc
    return experts


def run(config: dict, data: Iterable, out_dir: Path, resume: bool = True,
        export_dir: Path | None = None, info: ddp.DistInfo | None = None) -> dict:
    """Train GPFM-style on ``data``; checkpoints + log.jsonl under ``out_dir``, the EMA
    teacher's backbone (``ssl.export``) as weights.safetensors + card.yaml in ``export_dir``."""
    cfg = resolve_distill_config({"method": "gpfm", **config})
    info = info or ddp.init_distributed()
    ssl = cfg["ssl"]
    ssl["batch_size"], micro = rank_batches(cfg, info.world_size)
    if ssl["deterministic"]:
        torch.use_deterministic_algorithms(True)
    ddp.seed_everything(ssl["seed"], 0)
    task = GPFMTask(cfg, build_experts(cfg), info)
    ddp.seed_everything(ssl["seed"], info.rank)
    # The loop settings are the ssl section's; the checkpoints record the whole config.
    loop_cfg = LoopConfig.from_run(ssl, build_schedules(ssl, info.world_size),
                                   extra_state={"config": cfg},
                                   accumulation_steps=ssl["batch_size"] // micro,
                                   micro_batch_size=micro)
    card_cfg = {**cfg, "data_manifest": ssl["data_manifest"]}
    return fit_and_export(task, data, out_dir, loop_cfg, info, resume, export_dir, card_cfg,
                          which=ssl["export"],
                          extra={"distilled_from": [e["model"] for e in cfg["experts"]]},
                          monitor_cfg=cfg)
