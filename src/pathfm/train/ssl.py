"""DINO and DINOv2 self-supervised training (kaiko.ai recipe) — entry point ``run``.

Objectives (``objective``):
- ``dino``: DINO CLS loss across crops, EMA-centred teacher (Caron et al. 2021).
- ``dinov2``: DINO CLS loss with Sinkhorn-Knopp centring + masked iBOT patch loss
  (separate or shared head) + KoLeo on the student's global CLS tokens.

kaiko.ai's deviations are settings: ``init`` (ImageNet SSL weights: ``registry``
or a path), ``optim.lr_factor: 0.1`` (lr ÷ 10), mean/std 0.5 from the model's
registry contract (the data pipeline normalises with it), linear (DINO) or
square-root (DINOv2) lr scaling by global batch.

Call from a script::

    from pathfm.train.ssl import run
    run(config, data, out_dir=Path("results/train/demo-vit-s8"), resume=True,
        export_dir=Path("results/models/demo-vit-s8"))

``data`` is any iterable of multi-crop batches ``{"global": (2·B, 3, H, W),
"local": (M·B, 3, h, w)}`` in crop-major order (``pathfm.data.multicrop``),
already sharded for this rank; B is ``micro_batch_size`` when set (the loop
accumulates ``batch_size / micro_batch_size`` of them per step), else ``batch_size``. Multi-GPU / multi-process::

    torchrun --standalone --nproc_per_node=4 scripts/train_ssl.py --config ...

(``--nproc_per_node=2`` on CPU uses gloo.) ``run`` reads torchrun's environment
through ``pathfm.train.ddp.init_distributed``; ``batch_size`` is per rank.
The process exits with 75 (``loop.REQUEUE_EXIT_CODE``) after SIGTERM/SIGUSR1 and
a checkpoint; rerunning the same command resumes.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterable

import torch
import torch.nn as nn

from pathfm.config_merge import merge_known
from pathfm.losses import (
    DINOLoss,
    KoLeoLoss,
    PrototypeTargets,
    dino_cross_crop_ce,
    iBOTPatchLoss,
    ibot_patch_ce,
    teacher_targets,
)
from pathfm.models.heads import DINOHead, emitting_features
from pathfm.models.registry import ModelEntry, get_entry, load_weights, resolve_weights_path
from pathfm.models.vit import Backbone
from pathfm.train import ddp
from pathfm.train.ema import ema_update_, make_frozen_copy
from pathfm.train.export import export_heads, export_model
from pathfm.train.loop import (
    LoopConfig,
    accumulation_steps,
    check_accumulation_batch_statistics,
    check_micro_batch_size,
    fit,
)
from pathfm.train.masking import sample_masks
from pathfm.train.schedules import CosineSchedule, scaled_lr

DEFAULT_CONFIG: dict = {
    "objective": "dino",          # dino | dinov2
    "model": "demo-vit-s8",       # registry name
    "registry": None,             # path to models.yaml; default config/models.yaml
    "init": None,                 # None (random) | "registry" | path to a weights file
    "seed": 0,
    "deterministic": False,       # torch.use_deterministic_algorithms(True)
    "steps": 1000,
    "batch_size": 32,             # images per rank per step
    # Images per rank per forward; batch_size / micro_batch_size micro-batches are
    # accumulated per step (the loader yields micro-batches). None: batch_size.
    "micro_batch_size": None,
    # Batch statistics under accumulation; micro_batch (the only value): Sinkhorn-Knopp,
    # KoLeo and the masked iBOT mean are per micro-batch (pathfm.train.loop).
    "accumulation_batch_statistics": "micro_batch",
    "n_global_crops": 2,
    "drop_path_rate": 0.1,
    "precision": "fp32",          # fp32 | bf16 | fp16
    "optim": {
        "lr": 5e-4, "lr_scaling": "linear", "lr_factor": 1.0, "min_lr": 1e-6,
        "warmup_steps": 100, "weight_decay": 0.04, "weight_decay_end": 0.4,
        "betas": [0.9, 0.999], "clip_grad": 3.0, "layerwise_decay": 1.0,
        "patch_embed_lr_mult": 1.0, "freeze_last_layer_steps": 0,
    },
    "teacher": {
        "momentum": 0.996, "momentum_end": 1.0,
        "temp": 0.04, "warmup_temp": 0.04, "temp_warmup_steps": 0,
    },
    "heads": {
        "out_dim": 65536, "hidden_dim": 2048, "bottleneck_dim": 256, "nlayers": 3,
        "ibot_separate_head": False, "ibot_out_dim": 65536, "ibot_hidden_dim": 2048,
        "ibot_bottleneck_dim": 256,
    },
    "loss": {
        "centering": None,        # ema | sinkhorn; None: ema for dino, sinkhorn for dinov2
        "student_temp": 0.1, "center_momentum": 0.9, "sinkhorn_iterations": 3,
        # koleo_weight None: 0.1 for dinov2 (its recipe), 0 for dino (DINO has no KoLeo).
        "dino_weight": 1.0, "ibot_weight": 1.0, "koleo_weight": None,
        # Rows of (rows, prototypes) scores formed at a time (pathfm.losses.chunked_prototype_ce):
        # memory grows with chunk_rows·K instead of crops·batch·K (and masked tokens·K);
        # 4096 rows of K = 65,536 are 1 GiB per float32 buffer. 0: unchunked, the plain path.
        "chunk_rows": 4096,
    },
    "masking": {"min_ratio": 0.1, "max_ratio": 0.5, "probability": 0.5},
    "checkpoint_every": 500, "keep_checkpoints": 2, "log_every": 10, "progress": True,
    "export": "teacher",          # teacher | student: which backbone is exported
    "data_manifest": None,        # path(s) hashed into the exported card
}


def resolve_config(config: dict, defaults: dict = DEFAULT_CONFIG, where: str = "") -> dict:
    """Defaults deep-merged with ``config``; an unknown key is an error naming it.

    ``where`` prefixes key paths in that error; the objective-dependent defaults are
    filled in only for a top-level config (``where`` empty).
    """
    out = merge_known(config, defaults, "SSL config", where)
    if not where:
        if out["objective"] not in ("dino", "dinov2"):
            raise ValueError(f"objective {out['objective']!r} is not dino or dinov2")
        if out["loss"]["centering"] is None:
            out["loss"]["centering"] = "ema" if out["objective"] == "dino" else "sinkhorn"
        if out["loss"]["koleo_weight"] is None:
            out["loss"]["koleo_weight"] = 0.0 if out["objective"] == "dino" else 0.1
        check_micro_batch_size(out["micro_batch_size"])
        check_accumulation_batch_statistics(out["accumulation_batch_statistics"])
    return out


def micro_batching(cfg: dict) -> tuple[int, int]:
    """(micro-batches per step, images per micro-batch) of a resolved config, whose
    ``batch_size`` is per rank; a ``micro_batch_size`` that does not divide it raises."""
    k = accumulation_steps(cfg["batch_size"], cfg["micro_batch_size"],
                           origin="batch_size, images per rank per step")
    return k, cfg["batch_size"] // k


class StudentTeacherNet(nn.Module):
    """Backbone + DINO head (+ iBOT head). Same class for student and teacher.

    forward(global_crops (G·B, 3, H, W), local_crops (L·B, 3, h, w) | None,
            masks (G·B, N) bool | None) -> dict
        cls: (G·B, D) global CLS tokens; dino_global: (G·B, K); dino_local: (L·B, K);
        ibot: (M, K_ibot) scores of masked patch tokens (M = masks.sum()),
        only when the net has an iBOT head and ``ibot_masks`` is given.
    """

    def __init__(self, backbone: Backbone, dino_head: DINOHead, ibot_head: DINOHead | None,
                 shared_head: bool):
        super().__init__()
        self.backbone = backbone
        self.dino_head = dino_head
        self.ibot_head = None if shared_head else ibot_head
        self.shared_head = shared_head

    def forward(self, global_crops, local_crops=None, masks=None, ibot_masks=None) -> dict:
        return self.forward_with_tokens(global_crops, local_crops, masks, ibot_masks)[0]

    def forward_with_tokens(self, global_crops, local_crops=None, masks=None,
                            ibot_masks=None) -> tuple[dict, dict]:
        """``forward``'s dict, plus the backbone's token dict of the global crops."""
        g = self.backbone(global_crops, masks)
        out = {"cls": g["cls"], "dino_global": self.dino_head(g["cls"])}
        if local_crops is not None:
            out["dino_local"] = self.dino_head(self.backbone(local_crops)["cls"])
        if ibot_masks is not None:
            head = self.dino_head if self.shared_head else self.ibot_head
            out["ibot"] = head(g["patch"][ibot_masks])
        return out, g


class SSLTask(nn.Module):
    """DINO / DINOv2 task for ``pathfm.train.loop.fit``; see the module docstring."""

    def __init__(self, cfg: dict, entry: ModelEntry, info: ddp.DistInfo = ddp.DistInfo()):
        super().__init__()
        self.cfg, self.entry = cfg, entry
        self.v2 = cfg["objective"] == "dinov2"
        h, lc = cfg["heads"], cfg["loss"]
        vit = entry.build(drop_path_rate=cfg["drop_path_rate"])
        if cfg["init"]:
            path = resolve_weights_path(entry) if cfg["init"] == "registry" else Path(cfg["init"])
            load_weights(vit, path)
        backbone = Backbone(vit)
        backbone.mask_token.requires_grad_(self.v2)  # DDP: no unused trainable params
        dim = backbone.embed_dim
        dino_head = DINOHead(dim, h["out_dim"], h["hidden_dim"], h["bottleneck_dim"], h["nlayers"])
        ibot_head = None
        if self.v2 and h["ibot_separate_head"]:
            ibot_head = DINOHead(dim, h["ibot_out_dim"], h["ibot_hidden_dim"],
                                 h["ibot_bottleneck_dim"], h["nlayers"])
        shared = self.v2 and not h["ibot_separate_head"]
        student = StudentTeacherNet(backbone, dino_head, ibot_head, shared).to(info.device)
        # The teacher starts as the student, without drop-path, and is never trained.
        self.teacher = make_frozen_copy(student)
        for m in self.teacher.modules():
            if hasattr(m, "drop_prob"):
                m.drop_prob = 0.0
        self.student = student
        # The DDP wrapper is kept out of the module tree, so checkpoints have the same
        # keys whatever the world size (resume on a different number of GPUs).
        object.__setattr__(self, "_student_fwd", ddp.wrap_ddp(student, info))
        self.dino_loss = DINOLoss(h["out_dim"], lc["student_temp"], lc["center_momentum"])
        ibot_dim = h["ibot_out_dim"] if h["ibot_separate_head"] else h["out_dim"]
        self.ibot_loss = iBOTPatchLoss(ibot_dim, lc["student_temp"], lc["center_momentum"])
        self.koleo_loss = KoLeoLoss()

    # -- loop interface ---------------------------------------------------------------

    def num_images(self, batch: dict) -> int:
        return batch["global"].shape[0] // self.cfg["n_global_crops"]

    def forward(self, batch: dict, values: dict) -> dict:
        n_g = self.cfg["n_global_crops"]
        glob, loc = batch["global"], batch.get("local")
        b = glob.shape[0] // n_g
        lc, temp = self.cfg["loss"], values["teacher_temp"]
        masks = None
        if self.v2:
            p = self.entry.contract.patch_size
            hp, wp = glob.shape[-2] // p, glob.shape[-1] // p
            m = self.cfg["masking"]
            masks = sample_masks(glob.shape[0], hp, wp, m["min_ratio"], m["max_ratio"],
                                 m["probability"]).to(glob.device)

        if lc["chunk_rows"]:
            s, out = self._chunked_terms(glob, loc, masks, b, temp)
        else:
            s, out = self._plain_terms(glob, loc, masks, b, temp)
        loss = lc["dino_weight"] * out["dino"]
        if self.v2:
            loss = loss + lc["ibot_weight"] * out["ibot"]
        if lc["koleo_weight"]:
            # Spreads the student's CLS tokens within a batch: the guard against
            # dimensional collapse that short, small-batch runs need most.
            out["koleo"] = sum(self.koleo_loss(c) for c in s["cls"].chunk(n_g))
            loss = loss + lc["koleo_weight"] * out["koleo"]
        out["loss"] = loss
        return out

    def _plain_terms(self, glob, loc, masks, b: int, temp: float) -> tuple[dict, dict]:
        """(student outputs, DINO / iBOT terms) from full (rows, K) scores (chunk_rows 0)."""
        n_g, lc = self.cfg["n_global_crops"], self.cfg["loss"]
        with torch.no_grad():
            t = self.teacher(glob, None, None, masks)
            t_logits = t["dino_global"].view(n_g, b, -1)
            if lc["centering"] == "sinkhorn":
                t_probs = self.dino_loss.sinkhorn_knopp_teacher(t_logits, temp,
                                                                lc["sinkhorn_iterations"])
            else:
                t_probs = self.dino_loss.softmax_center_teacher(t_logits, temp)
                self.dino_loss.update_center(t_logits)

        s = self._student_fwd(glob, loc, masks, masks)
        s_logits = s["dino_global"].view(n_g, b, -1)
        if "dino_local" in s:
            s_logits = torch.cat([s_logits, s["dino_local"].view(-1, b, s_logits.shape[-1])])
        out = {"dino": self.dino_loss(s_logits, t_probs), **collapse_diagnostics(t_probs, t["cls"])}

        if self.v2:
            with torch.no_grad():
                if lc["centering"] == "sinkhorn":
                    t_patch = self.ibot_loss.sinkhorn_knopp_teacher(t["ibot"], temp,
                                                                    lc["sinkhorn_iterations"])
                else:
                    t_patch = self.ibot_loss.softmax_center_teacher(t["ibot"], temp)
                    self.ibot_loss.update_center(t["ibot"])
            out["ibot"] = self.ibot_loss.forward_masked(s["ibot"], t_patch, masks)
        return s, out

    @staticmethod
    def _ibot_head(net: StudentTeacherNet) -> DINOHead:
        return net.dino_head if net.shared_head else net.ibot_head

    def _chunked_terms(self, glob, loc, masks, b: int, temp: float) -> tuple[dict, dict]:
        """The same terms without (rows, K) tensors: the heads emit normalised bottleneck
        features and the losses form ``loss.chunk_rows`` rows of scores at a time."""
        lc = self.cfg["loss"]
        chunk, student_temp = lc["chunk_rows"], self.dino_loss.student_temp

        def targets(loss, features, head: DINOHead) -> PrototypeTargets:
            return teacher_targets(loss, features, head.normalized_prototypes(), temp,
                                   lc["centering"], lc["sinkhorn_iterations"], chunk)

        teacher = self.teacher
        with torch.no_grad(), emitting_features(teacher.dino_head, teacher.ibot_head):
            t = teacher(glob, None, None, masks)
            t_dino = targets(self.dino_loss, t["dino_global"], teacher.dino_head)
            if self.v2:
                t_ibot = targets(self.ibot_loss, t["ibot"], self._ibot_head(teacher))

        student = self.student
        with emitting_features(student.dino_head, student.ibot_head):
            s = self._student_fwd(glob, loc, masks, masks)
        features = s["dino_global"]
        if "dino_local" in s:
            features = torch.cat([features, s["dino_local"]])  # crop-major, globals first
        out = {"dino": dino_cross_crop_ce(features, student.dino_head.normalized_prototypes(),
                                          t_dino, b, student_temp, chunk),
               **collapse_diagnostics(t_dino, t["cls"])}
        if self.v2:
            out["ibot"] = ibot_patch_ce(s["ibot"], self._ibot_head(student).normalized_prototypes(),
                                        t_ibot, student_temp, masks, chunk)
        return s, out

    def param_groups(self) -> list[dict]:
        """AdamW groups: no weight decay on biases, norms, LayerScale and tokens;
        layer-wise lr decay ``decay^(depth + 1 − layer)`` (embeddings are layer 0)."""
        o = self.cfg["optim"]
        depth = len(self.student.backbone.vit.blocks)
        groups: dict[tuple, dict] = {}
        for name, p in self.student.named_parameters():
            if not p.requires_grad:
                continue
            layer = _layer_id(name, depth)
            lr_scale = o["layerwise_decay"] ** (depth + 1 - layer)
            if "patch_embed" in name:
                lr_scale *= o["patch_embed_lr_mult"]
            no_wd = p.ndim <= 1 or name.endswith(".gamma") or any(
                t in name for t in ("cls_token", "reg_token", "pos_embed", "mask_token"))
            key = (lr_scale, 0.0 if no_wd else 1.0)
            groups.setdefault(key, {"params": [], "lr_scale": key[0], "wd_scale": key[1]})
            groups[key]["params"].append(p)
        return list(groups.values())

    def after_backward(self, step: int) -> None:
        # DINO: keep the prototypes fixed early on, which stabilises the start.
        if step < self.cfg["optim"]["freeze_last_layer_steps"]:
            for name, p in self.student.named_parameters():
                if name.endswith("prototypes"):
                    p.grad = None

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """EMA teacher step and the one centre step of this optimiser step (all of its
        micro-batches' teacher scores, see ``TeacherCentering``)."""
        ema_update_(self.teacher, self.student, momentum)
        self.dino_loss.apply_center_update()
        self.ibot_loss.apply_center_update()

    def export_state(self, which: str = "teacher") -> dict[str, torch.Tensor]:
        """The backbone's weights with plain timm keys (loads into entry.build())."""
        net = self.teacher if which == "teacher" else self.student
        return {k: v.detach().cpu().contiguous() for k, v in net.backbone.vit.state_dict().items()}

    def export_heads(self, which: str = "teacher") -> dict[str, torch.Tensor]:
        """Projection heads as ``dino_head.*`` / ``ibot_head.*`` (no iBOT key when shared).

        Distillation from this model as a teacher reads them (``teacher_heads:
        checkpoint``), as H0-mini distilled through H-Optimus-0's own heads.
        """
        net = self.teacher if which == "teacher" else self.student
        heads = {"dino_head": net.dino_head, "ibot_head": net.ibot_head}
        return {f"{name}.{k}": v.detach().cpu().contiguous()
                for name, head in heads.items() if head is not None
                for k, v in head.state_dict().items()}


@torch.no_grad()
def collapse_diagnostics(teacher_probs: torch.Tensor | PrototypeTargets,
                         teacher_cls: torch.Tensor) -> dict:
    """Logged, not optimised: signs of the two DINO failure modes.

    teacher_probs (T, B, K), or the chunked losses' ``PrototypeTargets`` over the T·B
    rows (the same numbers, streamed over row chunks); teacher_cls (T·B, D).
    ``teacher_entropy``: mean entropy of one image's target (nats; ~log K = uniform
    collapse, ~0 = sharp). ``teacher_usage``: entropy of the batch-mean target (~0 =
    every image on one prototype). ``teacher_rankme``: RankMe of the teacher's CLS
    tokens in the batch (1 = one direction).
    """
    if isinstance(teacher_probs, PrototypeTargets):
        stats = teacher_probs.collapse_stats()
        ent, usage = stats["teacher_entropy"], stats["teacher_usage"]
    else:
        p = teacher_probs.float().flatten(0, -2)
        ent = -(p * p.clamp_min(1e-12).log()).sum(-1).mean()
        mean = p.mean(0)
        usage = -(mean * mean.clamp_min(1e-12).log()).sum()
    cls = teacher_cls.float()
    if not torch.isfinite(cls).all():  # the loop reports the non-finite loss itself
        return {"teacher_entropy": ent, "teacher_usage": usage,
                "teacher_rankme": torch.tensor(float("nan"))}
    s = torch.linalg.svdvals(cls)
    q = s / s.sum() + 1e-7
    rankme = torch.exp(-(q * q.log()).sum())
    return {"teacher_entropy": ent, "teacher_usage": usage, "teacher_rankme": rankme}


def _layer_id(name: str, depth: int) -> int:
    name = name.removeprefix("backbone.").removeprefix("vit.")
    if name.startswith(("cls_token", "reg_token", "pos_embed", "patch_embed", "mask_token")):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return depth + 1


def build_schedules(cfg: dict, world_size: int = 1) -> dict[str, CosineSchedule]:
    o, t, n = cfg["optim"], cfg["teacher"], cfg["steps"]
    lr = scaled_lr(o["lr"], cfg["batch_size"] * world_size, o["lr_scaling"]) * o["lr_factor"]
    return {
        "lr": CosineSchedule(lr, o["min_lr"], n, o["warmup_steps"]),
        "wd": CosineSchedule(o["weight_decay"], o["weight_decay_end"], n),
        "momentum": CosineSchedule(t["momentum"], t["momentum_end"], n),
        "teacher_temp": CosineSchedule(t["temp"], t["temp"], n, t["temp_warmup_steps"],
                                       t["warmup_temp"]),
    }


def run(config: dict, data: Iterable, out_dir: Path, resume: bool = True,
        export_dir: Path | None = None, info: ddp.DistInfo | None = None) -> dict:
    """Train with ``config`` on ``data``; write checkpoints + log.jsonl under ``out_dir``
    and export weights.safetensors + card.yaml to ``export_dir`` (default out_dir/export).

    Returns {"weights": path, "card": path, "last_checkpoint": path}.
    """
    cfg = resolve_config(config)
    k, micro = micro_batching(cfg)
    info = info or ddp.init_distributed()
    if cfg["deterministic"]:
        torch.use_deterministic_algorithms(True)
    # Same seed on every rank to build identical models, then a per-rank seed.
    ddp.seed_everything(cfg["seed"], 0)
    entry = get_entry(cfg["model"], cfg["registry"])
    task = SSLTask(cfg, entry, info)
    ddp.seed_everything(cfg["seed"], info.rank)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    loop_cfg = LoopConfig.from_run(cfg, build_schedules(cfg, info.world_size),
                                   extra_state={"config": cfg}, accumulation_steps=k,
                                   micro_batch_size=micro)
    summary = fit(task, data, out_dir, loop_cfg, info, resume=resume)
    result = {"last_checkpoint": summary["last_checkpoint"]}
    if info.is_main:
        export_to = Path(export_dir or out_dir / "export")
        paths = export_model(task.export_state(cfg["export"]), export_to,
                             entry=entry, config=cfg, step=cfg["steps"],
                             data_manifest=cfg["data_manifest"])
        result.update(paths)
        result["heads"] = export_heads(task.export_heads(cfg["export"]), export_to)
    ddp.barrier(info)
    return result
