"""H0-mini distillation (Filiot et al. 2025, §3.1, Table 4) — entry point ``run``.

A frozen teacher (H-Optimus-0; ``demo-h-optimus`` in the demo) with DINO and iBOT
heads supervises a student ViT (H0-mini: ViT-B/14, 4 registers, SwiGLU, no
stochastic depth) that has its own, separate DINO and iBOT heads:

- DINO objective: teacher CLS scores of the 2 global crops, softmax-centred and
  sharpened (``loss.centering: softmax``; ``sinkhorn`` is a setting), supervise
  the student's CLS scores of every *other* crop (the other global crop and all
  local crops), cross-entropy averaged over pairs (``pathfm.losses.DINOLoss``).
- iBOT objective: teacher patch scores of the global crops supervise the
  student's scores of the same patch tokens (same crop, same position); no
  masking, every token counts (``iBOTPatchLoss`` with ``masks=None``).
- No KoLeo. A spare EMA of the student backbone is kept (momentum 0.992 -> 1,
  cosine) and exported as the result (``export: ema``). Mixed precision via
  ``precision`` (bf16 | fp16 | fp32).

The teacher never trains: it sits outside the task's module tree (so it is not
checkpointed, not in the optimizer, never DDP-wrapped), every parameter has
``requires_grad=False`` and it runs under ``torch.no_grad()``.

Teacher heads (``teacher_heads``):

- ``checkpoint``: read ``dino_head.*`` / ``ibot_head.*`` from ``teacher_heads_path``
  or from the teacher weights file (``pathfm.train.teacher_heads``); frozen.
- ``learned`` (H-Optimus-0's heads are not public; the paper's discussion names
  learning them as the alternative). Two teacher-side head pairs exist: trainable
  *head students* and their EMA, the *target heads*, which produce every teacher
  score used above. Only the heads train; the teacher backbone stays frozen and
  runs without gradient. The head students learn DINOv2-style self-distillation
  on the frozen teacher's features, in the same step and with the same optimizer
  as the student (loss weight ``learned_heads.weight``):
  * DINO head: target-head scores of the teacher's global-crop CLS tokens
    (centred, sharpened: the same probabilities the student distils) supervise
    the head student's scores of the teacher's CLS tokens of the other global
    crop and of every local crop (cross-crop DINO on frozen features);
  * iBOT head: the teacher also encodes the global crops with iBOT block masks
    (masked patch embeddings replaced by the teacher's mask token, zero as in
    DINOv2's initialisation, since H-Optimus-0 publishes none); the head student's
    scores of those masked-position output tokens are trained to match the
    target-head scores of the unmasked crop at the same positions (masked iBOT
    on frozen features);
  * the target heads follow the head students by EMA (``learned_heads.momentum``
    -> ``momentum_end``, cosine), so their outputs drift slowly and centring plus
    sharpening keep them from collapsing, as in DINO;
  * the heads read the teacher's tokens standardised per dimension with running
    statistics (``learned_heads.input_norm: standardize``, ``FeatureStandardizer``):
    on raw tokens, which share one large direction, every image got nearly the same
    logits, the centre absorbed them and the targets went uniform (loss = ln K);
  * ``learned_heads.distill_ramp_epochs`` ramps the student's distillation loss
    weight linearly from 0 to 1, so the heads can settle before the student
    follows them (0: no ramp).

Call from a script::

    run(config, data, out_dir=Path("results/train/demo-h0-mini"),
        export_dir=Path("results/models/demo-h0-mini"))

``data`` yields multi-crop batches ``{"global": (2·B, 3, H, W), "local": (M·B, 3, h, w)}``
normalised with the student's mean/std; B is ``micro_batch_size`` when set (the loop
accumulates per-rank batch / B of them per optimiser step), else the per-rank batch. Multi-GPU::

    torchrun --standalone --nproc-per-node 8 scripts/distill.py --config run.json ...
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn as nn

from pathfm.losses import (
    DINOLoss,
    PrototypeTargets,
    dino_cross_crop_ce,
    iBOTPatchLoss,
    ibot_patch_ce,
    teacher_targets,
)
from pathfm.models.heads import DINOHead, emitting_features
from pathfm.models.registry import get_entry, load_weights
from pathfm.models.vit import Backbone
from pathfm.train import ddp
from pathfm.train.distill_config import epochs_to_steps, rank_batches, resolve_distill_config
from pathfm.train.distill_feature_norm import FeatureStandardizer
from pathfm.train.distill_monitor import build_monitor, card_summary
from pathfm.train.ema import ema_update_, make_frozen_copy
from pathfm.train.export import export_model
from pathfm.train.frozen_encoder import FrozenEncoder, load_frozen
from pathfm.train.loop import LoopConfig, fit, set_aside_stale_run
from pathfm.train.masking import sample_masks
from pathfm.train.param_groups import param_groups
from pathfm.train.schedules import CosineSchedule, scaled_lr
from pathfm.train.ssl import StudentTeacherNet
from pathfm.train.teacher_heads import HEAD_PREFIXES, load_teacher_heads


class HeadPair(nn.Module):
    """forward(cls (B, D), patch (M, D) or (B, N, D)) -> (dino scores (B, K), ibot scores)."""

    def __init__(self, dino: DINOHead, ibot: DINOHead):
        super().__init__()
        self.dino, self.ibot = dino, ibot

    def forward(self, cls: torch.Tensor, patch: torch.Tensor):
        return self.dino(cls), self.ibot(patch)


def _heads(in_dim: int, h: dict) -> HeadPair:
    return HeadPair(
        DINOHead(in_dim, h["out_dim"], h["hidden_dim"], h["dino_bottleneck_dim"], h["nlayers"]),
        DINOHead(in_dim, h["out_dim"], h["hidden_dim"], h["ibot_bottleneck_dim"], h["nlayers"]))


class H0MiniDistillTask(nn.Module):
    """The distillation task for ``pathfm.train.loop.fit``; see the module docstring."""

    def __init__(self, cfg: dict, teacher: FrozenEncoder,
                 checkpoint_heads: tuple[DINOHead, DINOHead | None] | None = None,
                 info: ddp.DistInfo = ddp.DistInfo()):
        super().__init__()
        self.cfg = cfg
        self.entry = get_entry(cfg["student"], cfg["registry"])
        h, lc = cfg["heads"], cfg["loss"]
        vit = self.entry.build(drop_path_rate=cfg["drop_path_rate"])
        if cfg["student_init"]:
            load_weights(vit, cfg["student_init"])
        backbone = Backbone(vit)
        backbone.mask_token.requires_grad_(False)  # the student is never masked
        pair = _heads(backbone.embed_dim, h)
        self.student = StudentTeacherNet(backbone, pair.dino, pair.ibot, shared_head=False
                                         ).to(info.device)
        self.student_ema = make_frozen_copy(self.student.backbone)
        # Outside the module tree: DDP wrapper (same checkpoint keys at any world size)
        # and the frozen teacher (never checkpointed, never in the optimizer).
        object.__setattr__(self, "_student_fwd", ddp.wrap_ddp(self.student, info))
        object.__setattr__(self, "teacher", teacher.to(info.device))

        self.head_student: HeadPair | None = None
        if cfg["teacher_heads"] == "checkpoint":
            if checkpoint_heads is None:
                raise ValueError("teacher_heads: checkpoint needs the loaded teacher heads")
            dino, ibot = checkpoint_heads
            ibot = ibot if ibot is not None else dino  # DINOv2 default: one shared head
            for name, head in (("dino", dino), ("ibot", ibot)):
                if head.prototypes.shape[0] != h["out_dim"]:
                    raise ValueError(
                        f"the teacher's {name} head has {head.prototypes.shape[0]} prototypes but "
                        f"heads.out_dim is {h['out_dim']}; set heads.out_dim to match")
            self.teacher_heads = make_frozen_copy(HeadPair(dino, ibot)).to(info.device)
        else:
            self.head_student = _heads(teacher.backbone.embed_dim, h).to(info.device)
            self.teacher_heads = make_frozen_copy(self.head_student)
            object.__setattr__(self, "_head_fwd", ddp.wrap_ddp(self.head_student, info))
            if cfg["learned_heads"]["input_norm"] == "standardize":
                dim, mom = teacher.backbone.embed_dim, cfg["learned_heads"]["input_norm_momentum"]
                self.cls_norm = FeatureStandardizer(dim, mom).to(info.device)
                self.patch_norm = FeatureStandardizer(dim, mom).to(info.device)
        self.dino_loss = DINOLoss(h["out_dim"], cfg["temperature"]["student"], lc["center_momentum"])
        self.ibot_loss = iBOTPatchLoss(h["out_dim"], cfg["temperature"]["student"],
                                       lc["center_momentum"])
        self._head_momentum = 1.0

    # -- loop interface ---------------------------------------------------------------

    def num_images(self, batch: dict) -> int:
        return batch["global"].shape[0] // 2

    def _teacher_probs(self, loss: nn.Module, logits: torch.Tensor, temp: float) -> torch.Tensor:
        lc = self.cfg["loss"]
        if lc["centering"] == "sinkhorn":
            return loss.sinkhorn_knopp_teacher(logits, temp, lc["sinkhorn_iterations"])
        probs = loss.softmax_center_teacher(logits, temp)
        loss.update_center(logits)
        return probs

    def _chunked_targets(self, t: dict, temp: float) -> tuple[PrototypeTargets, PrototypeTargets]:
        """Targets of the teacher's CLS tokens (2·B rows, crop-major) and of all its patch
        tokens (2·B·N rows), from the target heads' features: scores are formed
        ``loss.chunk_rows`` rows at a time, when a loss asks for them."""
        lc, heads = self.cfg["loss"], self.teacher_heads

        def targets(loss: nn.Module, head: DINOHead, tokens: torch.Tensor) -> PrototypeTargets:
            return teacher_targets(loss, head.features(tokens), head.normalized_prototypes(), temp,
                                   lc["centering"], lc["sinkhorn_iterations"], lc["chunk_rows"])

        return (targets(self.dino_loss, heads.dino, t["cls"]),
                targets(self.ibot_loss, heads.ibot, t["patch"].flatten(0, 1)))

    def forward(self, batch: dict, values: dict) -> dict:
        glob, loc = batch["global"], batch.get("local")
        n_img = glob.shape[0]          # 2·B global crops
        b = n_img // 2
        temp = values["teacher_temp"]
        p = self.entry.contract.patch_size
        hp, wp = glob.shape[-2] // p, glob.shape[-1] // p
        self._head_momentum = values.get("head_momentum", 1.0)
        # 0: (rows, K) scores, targets and gradients in full; else that many rows at a time.
        chunk = self.cfg["loss"]["chunk_rows"]
        student_temp = self.dino_loss.student_temp

        with torch.no_grad():
            t = self.teacher(glob)                               # cls (2B, Dt), patch (2B, N, Dt)
            if t["patch"].shape[1] != hp * wp:
                raise ValueError(
                    f"teacher {self.teacher.entry.name!r} gives {t['patch'].shape[1]} patch tokens "
                    f"per global crop, the student {hp * wp}: iBOT distillation needs equal "
                    f"token grids (same patch size)")
            if hasattr(self, "cls_norm"):
                self.cls_norm.update(t["cls"])
                self.patch_norm.update(t["patch"])
                t = {**t, "cls": self.cls_norm(t["cls"]), "patch": self.patch_norm(t["patch"])}
            if chunk:
                t_dino_p, t_ibot_p = self._chunked_targets(t, temp)
            else:
                t_dino, t_ibot = self.teacher_heads(t["cls"], t["patch"])  # (2B, K), (2B, N, K)
                t_dino_p = self._teacher_probs(self.dino_loss, t_dino.view(2, b, -1), temp)
                t_ibot_p = self._teacher_probs(self.ibot_loss, t_ibot, temp)

        out: dict = {}
        loss = glob.new_zeros(())
        weight = values.get("distill_weight", 1.0)
        if weight > 0:
            every_token = torch.ones(n_img, hp * wp, dtype=torch.bool, device=glob.device)
            if chunk:
                student = self.student
                with emitting_features(student.dino_head, student.ibot_head):
                    s = self._student_fwd(glob, loc, None, every_token)
                s_dino = s["dino_global"]
                if "dino_local" in s:
                    s_dino = torch.cat([s_dino, s["dino_local"]])  # crop-major, globals first
                out["dino"] = dino_cross_crop_ce(s_dino, student.dino_head.normalized_prototypes(),
                                                 t_dino_p, b, student_temp, chunk)
                out["ibot"] = ibot_patch_ce(s["ibot"], student.ibot_head.normalized_prototypes(),
                                            t_ibot_p, student_temp, None, chunk)
            else:
                s = self._student_fwd(glob, loc, None, every_token)
                s_dino = s["dino_global"].view(2, b, -1)
                if "dino_local" in s:
                    s_dino = torch.cat([s_dino, s["dino_local"].view(-1, b, s_dino.shape[-1])])
                out["dino"] = self.dino_loss(s_dino, t_dino_p)
                out["ibot"] = self.ibot_loss(s["ibot"].view(n_img, hp * wp, -1), t_ibot_p)
            lc = self.cfg["loss"]
            loss = weight * (lc["dino_weight"] * out["dino"] + lc["ibot_weight"] * out["ibot"])

        if self.head_student is not None:
            lh = self.cfg["learned_heads"]
            with torch.no_grad():
                cls_in = t["cls"]
                if loc is not None:
                    loc_cls = self.teacher(loc)["cls"]
                    cls_in = torch.cat([cls_in, self.cls_norm(loc_cls) if hasattr(
                        self, "cls_norm") else loc_cls])
                masks = sample_masks(n_img, hp, wp, lh["mask_min_ratio"], lh["mask_max_ratio"],
                                     lh["mask_probability"]).to(glob.device)
                masked_tokens = self.teacher(glob, masks)["patch"][masks]    # (M, Dt)
                if hasattr(self, "patch_norm"):
                    masked_tokens = self.patch_norm(masked_tokens)
            if chunk:
                hs = self.head_student
                with emitting_features(hs.dino, hs.ibot):
                    h_dino, h_ibot = self._head_fwd(cls_in, masked_tokens)
                out["head_dino"] = dino_cross_crop_ce(h_dino, hs.dino.normalized_prototypes(),
                                                      t_dino_p, b, student_temp, chunk)
                # The unmasked crops' targets at the masked positions, masks.nonzero() order.
                masked_rows = t_ibot_p.select(masks.flatten().nonzero().squeeze(1))
                out["head_ibot"] = ibot_patch_ce(h_ibot, hs.ibot.normalized_prototypes(),
                                                 masked_rows, student_temp, masks, chunk)
            else:
                h_dino, h_ibot = self._head_fwd(cls_in, masked_tokens)
                out["head_dino"] = self.dino_loss(h_dino.view(-1, b, h_dino.shape[-1]), t_dino_p)
                out["head_ibot"] = self.ibot_loss.forward_masked(h_ibot, t_ibot_p[masks], masks)
            loss = loss + lh["weight"] * (out["head_dino"] + out["head_ibot"])
        out["loss"] = loss
        return out

    def param_groups(self) -> list[dict]:
        o = self.cfg["optim"]
        named = [("", self.student)]
        if self.head_student is not None:
            named.append(("head_student", self.head_student))
        return param_groups(named, len(self.student.backbone.vit.blocks), o["layerwise_decay"],
                            o["patch_embed_lr_mult"])

    def after_backward(self, step: int) -> None:
        # Prototypes stay fixed for the first epoch (DINOv2's freeze_last_layer_epochs).
        cfg = self.cfg
        if step < epochs_to_steps(cfg["optim"]["freeze_last_layer_epochs"], cfg["epoch_length"]):
            for module in (self.student, self.head_student):
                for name, p in (module.named_parameters() if module is not None else ()):
                    if name.endswith("prototypes"):
                        p.grad = None

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """The spare student EMA (``momentum``), when learned the target heads, and the one
        centre step of this optimiser step (all its micro-batches, see ``TeacherCentering``)."""
        ema_update_(self.student_ema, self.student.backbone, momentum)
        if self.head_student is not None:
            ema_update_(self.teacher_heads, self.head_student, self._head_momentum)
        self.dino_loss.apply_center_update()
        self.ibot_loss.apply_center_update()

    def exported_cls(self, x: torch.Tensor) -> torch.Tensor:
        """CLS embeddings (n, D) of the network ``export: ema`` writes (the monitor's student)."""
        net = self.student_ema if self.cfg["export"] == "ema" else self.student.backbone
        return net(x)["cls"]

    def reference_encoders(self) -> dict[str, FrozenEncoder]:
        return {self.teacher.entry.name: self.teacher}

    @torch.no_grad()
    def head_agreement(self, x: torch.Tensor) -> float:
        """Mean per-image cosine of the student's DINO probabilities (its head, student
        temperature) and the teacher's centred targets (final teacher temperature) on
        ``x``: teacher-student agreement in the prototype space both heads share."""
        t_cls = self.teacher(x)["cls"]
        if hasattr(self, "cls_norm"):
            t_cls = self.cls_norm(t_cls)
        t = self.dino_loss.softmax_center_teacher(self.teacher_heads.dino(t_cls),
                                                  self.cfg["temperature"]["teacher"])
        s_logits = self.student.dino_head(self.student.backbone(x)["cls"])
        s = torch.softmax(s_logits.float() / self.cfg["temperature"]["student"], dim=-1)
        return float(torch.nn.functional.cosine_similarity(s, t, dim=-1).mean())

    def export_state(self, which: str = "ema") -> dict[str, torch.Tensor]:
        """Backbone weights with plain timm keys (load into the student entry's build())."""
        net = self.student_ema if which == "ema" else self.student.backbone
        return {k: v.detach().cpu().contiguous() for k, v in net.vit.state_dict().items()}


def build_schedules(cfg: dict, world_size: int = 1) -> dict[str, CosineSchedule]:
    o, t, n, e = cfg["optim"], cfg["temperature"], cfg["steps"], cfg["epoch_length"]
    lr = scaled_lr(o["lr"], cfg["global_batch_size"], o["lr_scaling"])
    out = {
        "lr": CosineSchedule(lr, o["min_lr"], n, epochs_to_steps(o["warmup_epochs"], e)),
        "wd": CosineSchedule(o["weight_decay"], o["weight_decay_end"], n),
        "momentum": CosineSchedule(cfg["ema"]["momentum"], cfg["ema"]["momentum_end"], n),
        "teacher_temp": CosineSchedule(t["teacher"], t["teacher"], n,
                                       epochs_to_steps(t["warmup_epochs"], e), t["warmup_teacher"]),
    }
    if cfg["teacher_heads"] == "learned":
        lh = cfg["learned_heads"]
        out["head_momentum"] = CosineSchedule(lh["momentum"], lh["momentum_end"], n)
        out["distill_weight"] = CosineSchedule(
            1.0, 1.0, n, epochs_to_steps(lh["distill_ramp_epochs"], e), 0.0)
    return out


def build_task(cfg: dict, info: ddp.DistInfo) -> H0MiniDistillTask:
    """Load the frozen teacher (and its heads when checkpointed) and build the task."""
    student_entry = get_entry(cfg["student"], cfg["registry"])
    teacher_entry = get_entry(cfg["teacher"], cfg["registry"])
    teacher, found = load_frozen(teacher_entry, cfg["teacher_weights"], student_entry.contract,
                                 head_prefixes=HEAD_PREFIXES)
    heads = None
    if cfg["teacher_heads"] == "checkpoint":
        heads = load_teacher_heads(found, cfg["teacher_heads_path"])
    return H0MiniDistillTask(cfg, teacher, heads, info)


def run(config: dict, data: Iterable, out_dir: Path, resume: bool = True,
        export_dir: Path | None = None, info: ddp.DistInfo | None = None) -> dict:
    """Distil with ``config`` on ``data``; checkpoints + log.jsonl under ``out_dir``;
    weights.safetensors + card.yaml of the exported student in ``export_dir``."""
    cfg = resolve_distill_config({"method": "h0mini", **config})
    info = info or ddp.init_distributed()
    per_rank, micro = rank_batches(cfg, info.world_size)
    if cfg["deterministic"]:
        torch.use_deterministic_algorithms(True)
    ddp.seed_everything(cfg["seed"], 0)  # identical initial weights on every rank
    task = build_task(cfg, info)
    ddp.seed_everything(cfg["seed"], info.rank)
    loop_cfg = LoopConfig.from_run(cfg, build_schedules(cfg, info.world_size),
                                   extra_state={"config": cfg},
                                   accumulation_steps=per_rank // micro, micro_batch_size=micro)
    return fit_and_export(task, data, out_dir, loop_cfg, info, resume, export_dir, cfg,
                          which=cfg["export"], extra={"distilled_from": cfg["teacher"],
                                                      "teacher_heads": cfg["teacher_heads"]},
                          monitor_cfg=cfg)


def fit_and_export(task: nn.Module, data: Iterable, out_dir: Path, loop_cfg: LoopConfig,
                   info: ddp.DistInfo, resume: bool, export_dir: Path | None, cfg: dict,
                   which: str, extra: dict, monitor_cfg: dict | None = None) -> dict:
    """Run the loop, then (rank 0) export ``task.export_state(which)`` with a card.

    ``monitor_cfg`` (the resolved run config) turns on the teacher–student similarity
    records (``pathfm.train.distill_monitor``) when ``data`` reads tile stores."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (out_dir / "log.jsonl").unlink(missing_ok=True)
    else:  # before the monitor writes its step-0 record into the log
        set_aside_stale_run(out_dir, loop_cfg.extra_state.get("config"), info)
    monitor = (build_monitor(monitor_cfg, task, data, out_dir, loop_cfg.log_every, info)
               if monitor_cfg is not None and info.is_main else None)
    if monitor:
        monitor.start()
    summary = fit(task, data, out_dir, loop_cfg, info, resume=resume,
                  on_step=monitor.on_step if monitor else None)
    result = {"last_checkpoint": summary["last_checkpoint"]}
    if info.is_main:
        similarity = card_summary(out_dir / "log.jsonl")
        if similarity:
            extra = {**extra, "teacher_student_cos": similarity}
        result.update(export_model(task.export_state(which), export_dir or out_dir / "export",
                                   entry=task.entry, config=cfg, step=loop_cfg.total_steps,
                                   data_manifest=cfg.get("data_manifest"), extra=extra))
    ddp.barrier(info)
    return result
