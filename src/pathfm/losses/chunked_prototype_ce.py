"""DINO / iBOT prototype losses that never hold a (rows × prototypes) tensor.

The heads (``pathfm.models.heads.DINOHead``) score a row by the cosines of its
L2-normalised bottleneck feature with the K row-normalised prototypes. With K =
131,072 (H0-mini) and an iBOT loss on every patch token, the student scores, the
teacher targets and their gradients, each (2·B·256, K), are tens of GB. As in the
fused linear + cross-entropy of large-vocabulary language models, the scores are
recomputed from the two factors, ``chunk_rows`` rows at a time:

- ``PrototypeTargets``: the teacher side, built from the teacher's normalised
  features (R, d) and prototypes (K, d) without gradient. It yields the target
  probabilities of any rows on demand, softmax-centred
  (``TeacherCentering.softmax_center_teacher``) or Sinkhorn-Knopp
  (``sinkhorn_knopp``), plus the row sum of the teacher scores for the EMA centre
  and the collapse diagnostics, all by streaming over row chunks.
- ``prototype_cross_entropy``: a custom autograd Function. Forward keeps one
  log-sum-exp per row; backward recomputes each chunk's softmax (and targets) and
  returns the gradients of the normalised features and prototypes. The
  normalisations themselves stay outside, under autograd, so the MLP and the raw
  prototypes get their gradients as in the plain path.
- ``dino_cross_crop_ce`` and ``ibot_patch_ce``: ``DINOLoss`` and
  ``iBOTPatchLoss`` (``forward`` / ``forward_masked``) semantics on top of it.

Memory grows with chunk_rows × K: a few (chunk_rows, K) temporaries at a time
(scores, targets, gradient). ``chunk_rows`` None or 0 means one chunk of all rows
(the tasks then keep their plain, unchunked path, see ``loss.chunk_rows``).

Matmul precision follows autocast as the plain ``F.linear`` would (bf16 under a
bf16 autocast), captured when the object or loss is built, since backward runs
outside the autocast region; softmaxes and sums are float32 (float64 for float64
inputs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import torch
import torch.distributed as dist
from torch.autograd.function import once_differentiable

from pathfm.losses.dino_clstoken_loss import TeacherCentering, _all_reduce

# Rows per chunk. At K = 131,072 prototypes one float32 (4,096, K) tensor is 2 GiB
# and a chunk holds a handful of them at once (~10 GiB), where the unchunked iBOT
# term of an H0-mini rank (2·B·256 tokens) needs tens of GB per tensor; a
# (4,096 × d) @ (d × K) product is still large enough to keep a GPU busy.
DEFAULT_CHUNK_ROWS = 4096

Rows = slice | torch.Tensor


def _spans(n: int, chunk_rows: int | None) -> list[slice]:
    step = chunk_rows if chunk_rows and chunk_rows > 0 else max(n, 1)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _accumulate_dtype(*tensors: torch.Tensor) -> torch.dtype:
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _matmul_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The dtype ``F.linear`` of these tensors would compute in here (autocast included)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    device_type = tensors[0].device.type
    if dtype == torch.float32 and torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return dtype


def _all_reduce_max(x: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
    return x


def _softmax_(x: torch.Tensor) -> torch.Tensor:
    """Row softmax in place (one fewer (rows, K) buffer than ``torch.softmax``)."""
    x.sub_(x.amax(dim=-1, keepdim=True)).exp_()
    return x.div_(x.sum(dim=-1, keepdim=True))


class PrototypeTargets:
    """Teacher target probabilities over K prototypes for R rows, computed on demand.

    ``q_i = softmax((features_i · prototypesᵀ − center) / temp + offset)``: the centre
    for softmax centring, the per-prototype log-scale ``offset`` for Sinkhorn-Knopp
    (q_ij = exp(l_ij / T)·r_i·c_j in log form, the row factor r_i being the final
    row normalisation). Build with ``softmax_centered`` or ``sinkhorn``.

    Rows are in the order of ``features``: crop-major (T·B rows) for the DINO loss,
    token rows for iBOT.
    """

    def __init__(self, features: torch.Tensor, prototypes: torch.Tensor, temp: float, *,
                 center: torch.Tensor | None = None, offset: torch.Tensor | None = None,
                 chunk_rows: int | None = DEFAULT_CHUNK_ROWS,
                 matmul_dtype: torch.dtype | None = None):
        if features.shape[-1] != prototypes.shape[-1]:
            raise ValueError(f"teacher features have {features.shape[-1]} dimensions, the "
                             f"prototypes {prototypes.shape[-1]}")
        self.acc = _accumulate_dtype(features, prototypes)
        self.mm = matmul_dtype or _matmul_dtype(features, prototypes)
        self.features = features.detach().reshape(-1, features.shape[-1]).to(self.mm)
        self.prototypes = prototypes.detach().to(self.mm)
        self.temp = float(temp)
        # Copies: the EMA centre moves in update_teacher, after backward has recomputed
        # these targets; backward must see the ones forward saw.
        self.center = None if center is None else center.detach().reshape(1, -1).to(
            self.acc, copy=True)
        self.offset = offset
        self.chunk_rows = chunk_rows

    @classmethod
    @torch.no_grad()
    def softmax_centered(cls, features: torch.Tensor, prototypes: torch.Tensor, temp: float,
                         center: torch.Tensor, chunk_rows: int | None = DEFAULT_CHUNK_ROWS
                         ) -> PrototypeTargets:
        """DINO's targets ``softmax((logits − center) / temp)``; center (1, K)."""
        return cls(features, prototypes, temp, center=center, chunk_rows=chunk_rows)

    @classmethod
    @torch.no_grad()
    def sinkhorn(cls, features: torch.Tensor, prototypes: torch.Tensor, temp: float,
                 n_iterations: int = 3, chunk_rows: int | None = DEFAULT_CHUNK_ROWS
                 ) -> PrototypeTargets:
        """``sinkhorn_knopp``'s targets (over all ranks), with ``n_iterations`` passes.

        ``sinkhorn_knopp`` scales exp(l/T) by its total, then alternately normalises
        prototype columns (over all ranks) and sample rows. A column step replaces the
        column factors whatever they were, so only the row-normalised state enters the
        next one: column step 1 divides exp(l_ij/T) by Σ_i exp(l_ij/T) (the total
        cancels), step k > 1 divides the row softmax of (l/T + offset) by its column
        sums; the final row normalisation is the softmax that ``probs`` applies. Each
        step is one streaming pass over row chunks with the scores recomputed, in log
        form: step 1 is a running, max-shifted log-sum-exp per prototype, later steps
        sum probabilities (≤ 1). So no exp overflows where exp(l/T) itself would (float32
        overflows once 1/T > 88, e.g. T = 0.01).
        """
        if n_iterations < 1:
            raise ValueError("Sinkhorn-Knopp needs at least one iteration")
        self = cls(features, prototypes, temp, chunk_rows=chunk_rows)
        k, dev = self.n_prototypes, self.features.device
        run_max = torch.full((k,), -math.inf, dtype=self.acc, device=dev)
        run_sum = torch.zeros(k, dtype=self.acc, device=dev)
        for rows in _spans(self.n_rows, chunk_rows):
            a = self._scores(rows)
            new_max = torch.maximum(run_max, a.amax(dim=0))
            run_sum.mul_(torch.exp(run_max - new_max)).add_(a.sub_(new_max).exp_().sum(dim=0))
            run_max = new_max
        if dist.is_available() and dist.is_initialized():
            global_max = _all_reduce_max(run_max.clone())
            # A rank without rows holds run_max = -inf and contributes 0.
            run_sum.mul_(torch.exp(run_max - global_max))
            _all_reduce(run_sum)
            run_max = global_max
        offset = -(run_max + run_sum.log())
        tiny = torch.finfo(self.acc).tiny
        for _ in range(n_iterations - 1):
            mass = torch.zeros(k, dtype=self.acc, device=dev)
            for rows in _spans(self.n_rows, chunk_rows):
                mass.add_(_softmax_(self._scores(rows).add_(offset)).sum(dim=0))
            # An unused prototype (mass underflowed to 0) is boosted instead of turning
            # the offsets into inf - inf.
            offset.sub_(_all_reduce(mass).clamp_min(tiny).log())
        self.offset = offset
        return self

    @property
    def n_rows(self) -> int:
        return self.features.shape[0]

    @property
    def n_prototypes(self) -> int:
        return self.prototypes.shape[0]

    def _scores(self, rows: Rows) -> torch.Tensor:
        """(r, K) (logits − center) / temp in the accumulation dtype; a fresh tensor."""
        with torch.autocast(self.features.device.type, enabled=False):
            x = (self.features[rows] @ self.prototypes.T).to(self.acc)
        if self.center is not None:
            x.sub_(self.center)
        return x.div_(self.temp)

    @torch.no_grad()
    def probs(self, rows: Rows = slice(None)) -> torch.Tensor:
        """Target probabilities (r, K) of ``rows`` (a slice or an index tensor)."""
        x = self._scores(rows)
        if self.offset is not None:
            x.add_(self.offset)
        return _softmax_(x)

    def dense(self) -> torch.Tensor:
        """All (R, K) targets at once: for checks at small sizes."""
        return self.probs(slice(None))

    def select(self, rows: Rows) -> PrototypeTargets:
        """The same targets restricted to ``rows`` (e.g. masked tokens): Sinkhorn's
        normalisation stays the one computed over all rows."""
        out = PrototypeTargets.__new__(PrototypeTargets)
        out.__dict__.update(self.__dict__)
        out.features = self.features[rows]
        return out

    @torch.no_grad()
    def logit_sum(self) -> torch.Tensor:
        """(1, K) sum over rows of the raw teacher logits (before centring), for the EMA
        centre: Σ_i f_i·w_j = (Σ_i f_i)·w_j, so no (rows, K) product is needed."""
        with torch.autocast(self.features.device.type, enabled=False):
            total = self.features.to(self.acc).sum(dim=0, keepdim=True)
            return total @ self.prototypes.to(self.acc).T

    @torch.no_grad()
    def collapse_stats(self) -> dict[str, torch.Tensor]:
        """``teacher_entropy`` (mean entropy of a row's target) and ``teacher_usage``
        (entropy of the mean target), as ``pathfm.train.ssl.collapse_diagnostics``."""
        k, dev = self.n_prototypes, self.features.device
        entropy = torch.zeros((), dtype=self.acc, device=dev)
        col_sum = torch.zeros(k, dtype=self.acc, device=dev)
        for rows in _spans(self.n_rows, self.chunk_rows):
            p = self.probs(rows)
            entropy -= torch.xlogy(p, p.clamp_min(1e-12)).sum()
            col_sum += p.sum(dim=0)
        n = max(self.n_rows, 1)
        mean = col_sum / n
        usage = -(mean * mean.clamp_min(1e-12).log()).sum()
        return {"teacher_entropy": entropy / n, "teacher_usage": usage}


@torch.no_grad()
def teacher_targets(centering: TeacherCentering, features: torch.Tensor,
                    prototypes: torch.Tensor, temp: float, method: str,
                    sinkhorn_iterations: int = 3, chunk_rows: int | None = DEFAULT_CHUNK_ROWS
                    ) -> PrototypeTargets:
    """Targets as the tasks' plain path makes them: ``method`` "sinkhorn", or softmax
    centring by ``centering.center``, whose update for these rows is then queued
    (``TeacherCentering.apply_center_update`` applies it)."""
    if method == "sinkhorn":
        return PrototypeTargets.sinkhorn(features, prototypes, temp, sinkhorn_iterations,
                                         chunk_rows)
    targets = PrototypeTargets.softmax_centered(features, prototypes, temp, centering.center,
                                                chunk_rows)
    centering.accumulate_center(targets.logit_sum(), targets.n_rows)
    return targets


class _Plan(Protocol):
    """Which targets score which student rows, chunk by chunk.

    The loss is ``scale · Σ_i w_i · CE(Q_i, softmax(s_i / T))`` with ``w`` per row
    (None: 1). Q_i need not sum to 1 (cross-crop partner sums): CE is linear in it.
    ``chunks`` yields (student rows, Q (r, K), w (r,) | None) and must yield the same
    sequence every time it is called (forward, then backward). ``_fused`` sets the
    student temperature and the dtypes.
    """

    targets: PrototypeTargets
    n_rows: int
    scale: float
    temp: float
    acc: torch.dtype
    mm: torch.dtype

    def chunks(self) -> Iterator[tuple[Rows, torch.Tensor, torch.Tensor | None]]: ...


class _AlignedPlan:
    """Student row i against target row i."""

    def __init__(self, targets: PrototypeTargets, weights: torch.Tensor | None, scale: float,
                 chunk_rows: int | None):
        self.targets, self.weights, self.scale = targets, weights, scale
        self.n_rows, self.chunk_rows = targets.n_rows, chunk_rows

    def chunks(self):
        for rows in _spans(self.n_rows, self.chunk_rows):
            w = None if self.weights is None else self.weights[rows].to(self.acc)
            yield rows, self.targets.probs(rows).to(self.acc), w


class _CrossCropPlan:
    """Student rows (S·B, crop-major) against the other teacher crops (T·B) of the same
    image; the first T student crops are the teacher's views, so (s, s) pairs are skipped.

    By linearity of CE in the target, a student row's CE over its partner crops is one
    CE against the sum of their targets: one pass per chunk of images.
    """

    def __init__(self, targets: PrototypeTargets, n_images: int, n_student_rows: int,
                 chunk_rows: int | None):
        if n_images < 1 or n_student_rows % n_images or targets.n_rows % n_images:
            raise ValueError(f"{n_student_rows} student and {targets.n_rows} teacher rows are "
                             f"not whole crops of {n_images} images")
        self.targets, self.b = targets, n_images
        self.s, self.t = n_student_rows // n_images, targets.n_rows // n_images
        n_pairs = self.s * self.t - min(self.s, self.t)
        if n_pairs == 0:
            raise ValueError("the DINO loss needs a student crop other than the teacher's view")
        self.scale = 1.0 / (n_pairs * n_images)
        self.n_rows = n_student_rows
        self.images_per_chunk = (max(1, chunk_rows // self.s) if chunk_rows and chunk_rows > 0
                                 else n_images)

    def chunks(self):
        b, s_crops, t_crops = self.b, self.s, self.t
        k = self.targets.n_prototypes
        dev = self.targets.features.device
        for images in _spans(b, self.images_per_chunk):
            lo, hi = images.start, images.stop
            nb = hi - lo
            if nb == b:
                rows: Rows = slice(None)
            else:
                rows = (torch.arange(s_crops, device=dev)[:, None] * b
                        + torch.arange(lo, hi, device=dev)[None]).reshape(-1)
            q = [self.targets.probs(slice(t * b + lo, t * b + hi)).to(self.acc)
                 for t in range(t_crops)]
            partner = torch.empty(s_crops, nb, k, dtype=self.acc, device=dev)
            for s in range(s_crops):
                others = [q_t for t, q_t in enumerate(q) if t != s]
                if not others:  # a lone teacher crop has no partner for its own view
                    partner[s].zero_()
                    continue
                partner[s].copy_(others[0])
                for q_t in others[1:]:
                    partner[s].add_(q_t)
            yield rows, partner.view(s_crops * nb, k), None


class _FusedPrototypeCE(torch.autograd.Function):
    """Loss of a ``_Plan`` from normalised features (R, d) and prototypes (K, d)."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, prototypes: torch.Tensor, plan: _Plan):
        with torch.autocast(features.device.type, enabled=False):
            w_mm = prototypes.to(plan.mm)
            lse = torch.empty(features.shape[0], dtype=plan.acc, device=features.device)
            total = torch.zeros((), dtype=plan.acc, device=features.device)
            for rows, q, w in plan.chunks():
                s = (features[rows].to(plan.mm) @ w_mm.T).to(plan.acc).div_(plan.temp)
                row_lse = torch.logsumexp(s, dim=-1)
                lse[rows] = row_lse
                ce = -s.sub_(row_lse[:, None]).mul_(q).sum(dim=-1)  # s is now log p · q
                total += (ce if w is None else ce * w).sum()
        ctx.save_for_backward(features, prototypes, lse)
        ctx.plan = plan
        return total * plan.scale

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        features, prototypes, lse = ctx.saved_tensors
        plan: _Plan = ctx.plan
        need_f, need_p = ctx.needs_input_grad[:2]
        with torch.autocast(features.device.type, enabled=False):
            w_mm = prototypes.to(plan.mm)
            d_f = torch.zeros(features.shape, dtype=plan.acc, device=features.device)
            d_p = torch.zeros(prototypes.shape, dtype=plan.acc, device=features.device)
            g_scale = grad_out.to(plan.acc) * (plan.scale / plan.temp)
            for rows, q, w in plan.chunks():
                z = features[rows].to(plan.mm)
                s = (z @ w_mm.T).to(plan.acc).div_(plan.temp)
                # dCE/ds = (Σ_j Q_ij)·softmax(s_i) − Q_i, softmax from the saved lse.
                g = s.sub_(lse[rows][:, None]).exp_().mul_(q.sum(dim=-1, keepdim=True)).sub_(q)
                g.mul_(g_scale if w is None else (g_scale * w)[:, None])
                g = g.to(plan.mm)
                if need_f:
                    d_f[rows] = (g @ w_mm).to(plan.acc)
                if need_p:
                    d_p += (g.T @ z).to(plan.acc)
        return (d_f.to(features.dtype) if need_f else None,
                d_p.to(prototypes.dtype) if need_p else None, None)


def _fused(features: torch.Tensor, prototypes: torch.Tensor, plan: _Plan,
           student_temp: float) -> torch.Tensor:
    if features.shape[0] != plan.n_rows:
        raise ValueError(f"{features.shape[0]} student rows for {plan.n_rows} planned rows")
    if prototypes.shape[0] != plan.targets.n_prototypes:
        raise ValueError(f"the student has {prototypes.shape[0]} prototypes, the teacher's "
                         f"targets {plan.targets.n_prototypes}")
    plan.temp = float(student_temp)
    plan.acc = torch.promote_types(_accumulate_dtype(features, prototypes), plan.targets.acc)
    plan.mm = _matmul_dtype(features, prototypes)
    return _FusedPrototypeCE.apply(features, prototypes, plan)


def prototype_cross_entropy(student_features: torch.Tensor, student_prototypes: torch.Tensor,
                            targets: PrototypeTargets, student_temp: float,
                            weights: torch.Tensor | None = None,
                            chunk_rows: int | None = DEFAULT_CHUNK_ROWS) -> torch.Tensor:
    """Σ_i weights_i · CE(targets_i, softmax(features_i · prototypesᵀ / student_temp)).

    student_features (R, d): normalised bottleneck output (``DINOHead.features``);
    student_prototypes (K, d): ``DINOHead.normalized_prototypes()``; row i is scored
    against target row i. ``weights`` (R,), no gradient; None: the mean over rows.
    """
    n = student_features.shape[0]
    if weights is None:
        plan = _AlignedPlan(targets, None, 1.0 / max(n, 1), chunk_rows)
    else:
        plan = _AlignedPlan(targets, weights.detach().reshape(-1), 1.0, chunk_rows)
    return _fused(student_features, student_prototypes, plan, student_temp)


def dino_cross_crop_ce(student_features: torch.Tensor, student_prototypes: torch.Tensor,
                       targets: PrototypeTargets, n_images: int, student_temp: float,
                       chunk_rows: int | None = DEFAULT_CHUNK_ROWS) -> torch.Tensor:
    """``DINOLoss.forward`` / ``cross_crop_entropy``: mean over pairs (s, t), s ≠ t, and
    images of CE(target[t, b], student[s, b]).

    student_features (S·B, d) crop-major, globals first (the first T are the
    teacher's views); targets over (T·B) crop-major rows. About ``chunk_rows``
    student rows (whole images) per chunk.
    """
    plan = _CrossCropPlan(targets, n_images, student_features.shape[0], chunk_rows)
    return _fused(student_features, student_prototypes, plan, student_temp)


def ibot_patch_ce(student_features: torch.Tensor, student_prototypes: torch.Tensor,
                  targets: PrototypeTargets, student_temp: float,
                  masks: torch.Tensor | None = None,
                  chunk_rows: int | None = DEFAULT_CHUNK_ROWS) -> torch.Tensor:
    """``iBOTPatchLoss``: masks None (distillation): the mean CE over all token rows;
    masks (B, N) bool: features and targets are the M masked tokens in
    ``masks.nonzero()`` order, as ``forward_masked`` (mean over an image's tokens, then
    over the images that have any; 0, with gradient 0, when none has)."""
    if masks is None:
        return prototype_cross_entropy(student_features, student_prototypes, targets,
                                       student_temp, None, chunk_rows)
    n_per_image = masks.sum(dim=-1)
    acc = _accumulate_dtype(student_features, student_prototypes)
    weights = 1.0 / n_per_image.clamp(min=1).to(acc)
    weights = weights[:, None].expand_as(masks)[masks]  # (M,): 1/n of the token's image
    n_images = int((n_per_image > 0).sum())
    plan = _AlignedPlan(targets, weights, 1.0 / max(n_images, 1), chunk_rows)
    return _fused(student_features, student_prototypes, plan, student_temp)
