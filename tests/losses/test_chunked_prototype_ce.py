"""Chunked prototype losses against the plain (rows × K) path, deferred centre updates.

Float64 at small sizes with ragged chunks (7 rows; 3 images of 4 crops for DINO),
so any mismatch is a bug rather than rounding: loss values and gradients w.r.t. the
normalised features and prototypes, the MLP and the raw prototypes must agree.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from pathfm.losses import (
    DINOLoss,
    PrototypeTargets,
    dino_cross_crop_ce,
    iBOTPatchLoss,
    ibot_patch_ce,
    prototype_cross_entropy,
    sinkhorn_knopp,
    teacher_targets,
)
from pathfm.models.heads import DINOHead, emitting_features
from pathfm.train.ssl import collapse_diagnostics

K, D_IN, CHUNK = 512, 12, 7
T_TEACHER, T_STUDENT = 0.04, 0.1
S_CROPS, T_CROPS, B = 4, 2, 16            # DINO: 2 global + 2 local student crops
IMAGES, TOKENS = 4, 16                    # iBOT: 64 token rows
EXACT = {"rtol": 1e-10, "atol": 1e-12}


def _heads(seed: int = 0) -> tuple[DINOHead, DINOHead]:
    torch.manual_seed(seed)
    student = DINOHead(D_IN, K, hidden_dim=20, bottleneck_dim=16, nlayers=2).double()
    teacher = DINOHead(D_IN, K, hidden_dim=20, bottleneck_dim=8, nlayers=2).double()
    return student, teacher


def _center(loss: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        loss.center.copy_(0.05 * torch.randn(1, K, generator=torch.Generator().manual_seed(3)))
    return loss


def _run(student: DINOHead, x: torch.Tensor, loss_fn) -> tuple[torch.Tensor, dict]:
    """Loss and gradients of loss_fn(normalised features, normalised prototypes)."""
    student.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    feats, protos = student.features(x), student.normalized_prototypes()
    feats.retain_grad()
    protos.retain_grad()
    loss = loss_fn(feats, protos)
    loss.backward()
    grads = {"features": feats.grad, "normalized_prototypes": protos.grad, "input": x.grad}
    grads.update({name: p.grad.clone() for name, p in student.named_parameters()})
    return loss.detach(), grads


def _assert_same(plain, chunked):
    (loss_p, grads_p), (loss_c, grads_c) = plain, chunked
    torch.testing.assert_close(loss_c, loss_p, **EXACT)
    assert grads_p.keys() == grads_c.keys()
    for name in grads_p:
        torch.testing.assert_close(grads_c[name], grads_p[name], **EXACT, msg=name)


def _plain_targets(loss, logits: torch.Tensor, centering: str) -> torch.Tensor:
    if centering == "sinkhorn":
        return loss.sinkhorn_knopp_teacher(logits, T_TEACHER, 3)
    probs = loss.softmax_center_teacher(logits, T_TEACHER)
    loss.update_center(logits)
    return probs


def _masks() -> torch.Tensor:
    masks = torch.rand(IMAGES, TOKENS, generator=torch.Generator().manual_seed(5)) < 0.5
    masks[1] = False  # an image without masked tokens: left out of the mean over images
    masks[2, :3] = True
    return masks


# -- the losses against DINOLoss / iBOTPatchLoss ------------------------------------------


@pytest.mark.parametrize("centering", ["softmax", "sinkhorn"])
def test_dino_cross_crop_equals_dino_loss(centering):
    student, teacher = _heads()
    g = torch.Generator().manual_seed(1)
    x_s = torch.randn(S_CROPS * B, D_IN, generator=g, dtype=torch.float64)
    x_t = torch.randn(T_CROPS * B, D_IN, generator=g, dtype=torch.float64)
    plain_loss = _center(DINOLoss(K, T_STUDENT).double())
    chunk_loss = _center(DINOLoss(K, T_STUDENT).double())
    with torch.no_grad():
        t_probs = _plain_targets(plain_loss, teacher(x_t).view(T_CROPS, B, K), centering)
        targets = teacher_targets(chunk_loss, teacher.features(x_t),
                                  teacher.normalized_prototypes(), T_TEACHER, centering, 3, CHUNK)
    plain = _run(student, x_s, lambda f, w: plain_loss(F.linear(f, w).view(S_CROPS, B, K),
                                                       t_probs))
    # 12 rows: 3 images × 4 crops per chunk, 16 images: the last chunk holds one image.
    chunked = _run(student, x_s, lambda f, w: dino_cross_crop_ce(f, w, targets, B, T_STUDENT,
                                                                 chunk_rows=12))
    _assert_same(plain, chunked)
    unchunked = _run(student, x_s, lambda f, w: dino_cross_crop_ce(f, w, targets, B, T_STUDENT,
                                                                   chunk_rows=None))
    _assert_same(plain, unchunked)
    # The streamed logit sum queued the same centre update as the (rows, K) logits did.
    plain_loss.apply_center_update()
    chunk_loss.apply_center_update()
    torch.testing.assert_close(chunk_loss.center, plain_loss.center, **EXACT)


@pytest.mark.parametrize("centering", ["softmax", "sinkhorn"])
def test_ibot_every_token_equals_ibot_loss(centering):
    student, teacher = _heads(1)
    g = torch.Generator().manual_seed(2)
    x_s = torch.randn(IMAGES * TOKENS, D_IN, generator=g, dtype=torch.float64)
    x_t = torch.randn(IMAGES * TOKENS, D_IN, generator=g, dtype=torch.float64)
    loss = _center(iBOTPatchLoss(K, T_STUDENT).double())
    with torch.no_grad():
        t_probs = _plain_targets(loss, teacher(x_t), centering)
        targets = teacher_targets(_center(iBOTPatchLoss(K).double()), teacher.features(x_t),
                                  teacher.normalized_prototypes(), T_TEACHER, centering, 3, CHUNK)
    plain = _run(student, x_s, lambda f, w: loss(F.linear(f, w).view(IMAGES, TOKENS, K),
                                                 t_probs.view(IMAGES, TOKENS, K)))
    chunked = _run(student, x_s, lambda f, w: ibot_patch_ce(f, w, targets, T_STUDENT, None,
                                                            CHUNK))
    _assert_same(plain, chunked)


@pytest.mark.parametrize("centering", ["softmax", "sinkhorn"])
def test_ibot_masked_equals_forward_masked(centering):
    student, teacher = _heads(2)
    masks = _masks()
    m = int(masks.sum())
    g = torch.Generator().manual_seed(4)
    x_s = torch.randn(m, D_IN, generator=g, dtype=torch.float64)
    x_t = torch.randn(m, D_IN, generator=g, dtype=torch.float64)
    loss = _center(iBOTPatchLoss(K, T_STUDENT).double())
    with torch.no_grad():
        t_probs = _plain_targets(loss, teacher(x_t), centering)
        targets = teacher_targets(_center(iBOTPatchLoss(K).double()), teacher.features(x_t),
                                  teacher.normalized_prototypes(), T_TEACHER, centering, 3, CHUNK)
    plain = _run(student, x_s, lambda f, w: loss.forward_masked(F.linear(f, w), t_probs, masks))
    chunked = _run(student, x_s, lambda f, w: ibot_patch_ce(f, w, targets, T_STUDENT, masks,
                                                            CHUNK))
    _assert_same(plain, chunked)
    # The dense (B, N, K) form with masks agrees too (same semantics, another code path).
    dense_s = torch.zeros(IMAGES, TOKENS, K, dtype=torch.float64)
    dense_t = torch.full((IMAGES, TOKENS, K), 1.0 / K, dtype=torch.float64)
    with torch.no_grad():
        dense_s[masks] = student(x_s)
        dense_t[masks] = t_probs
    torch.testing.assert_close(loss(dense_s, dense_t, masks), plain[0], **EXACT)


def test_ibot_without_masked_tokens_is_zero_with_zero_gradient():
    student, teacher = _heads(3)
    masks = torch.zeros(IMAGES, TOKENS, dtype=torch.bool)
    empty = torch.zeros(0, D_IN, dtype=torch.float64)
    targets = PrototypeTargets.softmax_centered(teacher.features(empty),
                                                teacher.normalized_prototypes(), T_TEACHER,
                                                torch.zeros(1, K, dtype=torch.float64), CHUNK)
    loss, grads = _run(student, empty, lambda f, w: ibot_patch_ce(f, w, targets, T_STUDENT,
                                                                  masks, CHUNK))
    assert loss.item() == 0.0
    assert all(torch.count_nonzero(g) == 0 for g in grads.values())


def test_per_row_weights():
    student, teacher = _heads(4)
    g = torch.Generator().manual_seed(6)
    x_s = torch.randn(20, D_IN, generator=g, dtype=torch.float64)
    x_t = torch.randn(20, D_IN, generator=g, dtype=torch.float64)
    weights = torch.rand(20, generator=g, dtype=torch.float64)
    with torch.no_grad():
        q = F.softmax(teacher(x_t) / T_TEACHER, dim=-1)
        targets = PrototypeTargets.softmax_centered(
            teacher.features(x_t), teacher.normalized_prototypes(), T_TEACHER,
            torch.zeros(1, K, dtype=torch.float64), CHUNK)

    def plain_fn(f, w):
        ce = -(q * F.log_softmax(F.linear(f, w) / T_STUDENT, dim=-1)).sum(-1)
        return (weights * ce).sum()

    plain = _run(student, x_s, plain_fn)
    chunked = _run(student, x_s, lambda f, w: prototype_cross_entropy(
        f, w, targets, T_STUDENT, weights, CHUNK))
    _assert_same(plain, chunked)


# -- teacher targets -----------------------------------------------------------------------


def _teacher_rows(n: int = 64, dtype=torch.float64, seed: int = 7):
    _, teacher = _heads(seed)
    x = torch.randn(n, D_IN, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with torch.no_grad():
        teacher = teacher.to(dtype)
        x = x.to(dtype)
        return teacher(x), teacher.features(x), teacher.normalized_prototypes()


@pytest.mark.parametrize("n_iterations", [1, 3, 5])
@pytest.mark.parametrize("chunk_rows", [CHUNK, None])
def test_sinkhorn_targets_equal_sinkhorn_knopp(n_iterations, chunk_rows):
    logits, feats, protos = _teacher_rows()
    expected = sinkhorn_knopp(logits, T_TEACHER, n_iterations)
    targets = PrototypeTargets.sinkhorn(feats, protos, T_TEACHER, n_iterations, chunk_rows)
    torch.testing.assert_close(targets.dense(), expected, **EXACT)
    rows = torch.tensor([3, 0, 63, 17])
    torch.testing.assert_close(targets.select(rows).dense(), expected[rows], **EXACT)
    torch.testing.assert_close(targets.probs(slice(10, 17)), expected[10:17], **EXACT)


def test_sinkhorn_is_finite_where_exp_overflows_float32():
    logits, feats, protos = _teacher_rows(dtype=torch.float32)
    temp = 0.005  # exp(l / T) reaches exp(200): inf in float32
    assert not torch.isfinite(sinkhorn_knopp(logits, temp)).all()
    reference = sinkhorn_knopp(logits.double(), temp)  # exp(200) is fine in float64
    got = PrototypeTargets.sinkhorn(feats, protos, temp, 3, CHUNK).dense()
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), reference, rtol=1e-3, atol=1e-5)


def test_softmax_targets_logit_sum_and_diagnostics():
    logits, feats, protos = _teacher_rows(n=2 * B)
    center = 0.1 * torch.randn(1, K, dtype=torch.float64)
    loss = DINOLoss(K).double()
    loss.center.copy_(center)
    targets = PrototypeTargets.softmax_centered(feats, protos, T_TEACHER, center, CHUNK)
    probs = loss.softmax_center_teacher(logits, T_TEACHER)
    torch.testing.assert_close(targets.dense(), probs, **EXACT)
    torch.testing.assert_close(targets.logit_sum(), logits.sum(0, keepdim=True), **EXACT)
    cls = torch.randn(2 * B, 6, dtype=torch.float64)
    plain = collapse_diagnostics(probs.view(2, B, K), cls)
    streamed = collapse_diagnostics(targets, cls)
    assert plain.keys() == streamed.keys()
    for key in plain:
        torch.testing.assert_close(streamed[key].double(), plain[key].double(), rtol=1e-6,
                                   atol=1e-7, msg=key)
    # The centre is a snapshot: moving it afterwards does not change these targets
    # (backward recomputes them after forward, before the teacher update).
    center.add_(1.0)
    torch.testing.assert_close(targets.dense(), probs, **EXACT)


# -- deferred centre updates -----------------------------------------------------------------


def _immediate_update(center: torch.Tensor, logits: torch.Tensor, momentum: float) -> torch.Tensor:
    """The update as update_center applied it before it was deferred (one process)."""
    flat = logits.reshape(-1, logits.shape[-1]).float()
    batch_center = flat.sum(dim=0, keepdim=True) / flat.shape[0]
    return center.clone().mul_(momentum).add_(batch_center, alpha=1 - momentum)


def test_one_micro_batch_moves_the_centre_exactly_as_before():
    loss = DINOLoss(K, center_momentum=0.9)
    g = torch.Generator().manual_seed(8)
    for _ in range(3):  # three optimiser steps of one micro-batch each
        logits = torch.randn(2, 8, K, generator=g)
        expected = _immediate_update(loss.center, logits, 0.9)
        before = loss.center.clone()
        loss.update_center(logits)
        assert torch.equal(loss.center, before)  # deferred to the end of the step
        loss.apply_center_update()
        assert torch.equal(loss.center, expected)
    loss.apply_center_update()  # nothing pending: no step
    assert torch.equal(loss.center, expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_three_micro_batches_equal_one_full_batch(dtype):
    g = torch.Generator().manual_seed(9)
    logits = torch.randn(16, K, generator=g, dtype=dtype)
    full = iBOTPatchLoss(K, center_momentum=0.8).to(dtype)
    micro = iBOTPatchLoss(K, center_momentum=0.8).to(dtype)
    for loss in (full, micro):
        loss.center.copy_(torch.randn(1, K, generator=g, dtype=dtype))
    micro.center.copy_(full.center)
    full.update_center(logits)
    full.apply_center_update()
    start = micro.center.clone()
    for part in logits.split([5, 7, 4]):  # unequal micro-batches
        # Every micro-batch of the step sees the same centre.
        torch.testing.assert_close(micro.softmax_center_teacher(part, T_TEACHER),
                                   F.softmax((part - start) / T_TEACHER, dim=-1), rtol=0, atol=0)
        micro.update_center(part)
    micro.apply_center_update()
    tol = EXACT if dtype == torch.float64 else {"rtol": 1e-6, "atol": 1e-6}
    torch.testing.assert_close(micro.center, full.center, **tol)


def test_pending_sums_stay_out_of_checkpoints():
    loss = DINOLoss(K)
    loss.update_center(torch.randn(4, K))
    assert set(loss.state_dict()) == {"center"}
    old = {"center": torch.randn(1, K)}  # a checkpoint written before deferral
    DINOLoss(K).load_state_dict(old, strict=True)


# -- heads, dtypes, memory ---------------------------------------------------------------------


def test_heads_emit_features_only_inside_the_context():
    student, teacher = _heads(10)
    x = torch.randn(5, D_IN, dtype=torch.float64)
    logits = student(x)
    torch.testing.assert_close(logits, F.linear(student.features(x),
                                                student.normalized_prototypes()), **EXACT)
    with emitting_features(student, None, student, teacher):
        assert student(x).shape == (5, 16) and teacher(x).shape == (5, 8)
    assert torch.equal(student(x), logits)


def test_autocast_bf16_matches_plain_autocast_and_keeps_grad_dtypes():
    torch.manual_seed(11)
    student = DINOHead(D_IN, K, 20, 16, 2)
    teacher = DINOHead(D_IN, K, 20, 8, 2)
    x_s, x_t = torch.randn(IMAGES * TOKENS, D_IN), torch.randn(IMAGES * TOKENS, D_IN)
    center = torch.zeros(1, K)
    results = []
    for chunked in (False, True):
        student.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            with torch.no_grad():
                if chunked:
                    targets = PrototypeTargets.softmax_centered(
                        teacher.features(x_t), teacher.normalized_prototypes(), T_TEACHER, center,
                        CHUNK)
                else:
                    t_probs = F.softmax((teacher(x_t).float() - center) / T_TEACHER, dim=-1)
            if chunked:
                loss = ibot_patch_ce(student.features(x_s), student.normalized_prototypes(),
                                     targets, T_STUDENT, None, CHUNK)
            else:
                loss = iBOTPatchLoss(K, T_STUDENT)(student(x_s), t_probs)
        loss.backward()
        assert loss.dtype == torch.float32 and student.prototypes.grad.dtype == torch.float32
        results.append((loss.detach(), student.prototypes.grad.clone()))
    (loss_p, grad_p), (loss_c, grad_c) = results
    torch.testing.assert_close(loss_c, loss_p, rtol=1e-3, atol=1e-3)
    cos = F.cosine_similarity(grad_c.flatten(), grad_p.flatten(), dim=0)
    assert cos > 0.99


class _LargestTensor(TorchDispatchMode):
    """Counts the elements of the largest tensor any op produces (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.numel = max(self.numel, t.numel())
        return out


def _unit(n: int, d: int, seed: int, grad: bool = False) -> torch.Tensor:
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x.requires_grad_(grad)


@pytest.mark.parametrize("centering", ["softmax", "sinkhorn"])
def test_memory_grows_with_chunk_rows_not_rows(centering):
    rows, d, chunk = 512, 4, 8  # rows·K = 262,144 elements; chunk·K = 4,096
    leaf_s, leaf_w = _unit(rows, d, 0, True), _unit(K, d, 1, True)
    t_feats, t_protos = F.normalize(_unit(rows, d, 2), dim=-1), F.normalize(_unit(K, d, 3), dim=-1)
    center = torch.zeros(1, K, dtype=torch.float64)
    n_images = rows // S_CROPS

    def build(mode_rows):
        if centering == "sinkhorn":
            return PrototypeTargets.sinkhorn(t_feats, t_protos, T_TEACHER, 3, mode_rows)
        return PrototypeTargets.softmax_centered(t_feats, t_protos, T_TEACHER, center, mode_rows)

    with _LargestTensor() as seen:
        feats, protos = F.normalize(leaf_s, dim=-1), F.normalize(leaf_w, dim=-1)
        targets = build(chunk)
        ibot = ibot_patch_ce(feats, protos, targets, T_STUDENT, None, chunk)
        # DINO: 128 images × 4 student crops against 2 teacher crops (the first 256 rows).
        dino = dino_cross_crop_ce(feats, protos, targets.select(slice(0, 2 * n_images)),
                                  n_images, T_STUDENT, chunk)
        (ibot + dino).backward()
        targets.collapse_stats()
        targets.logit_sum()
    assert seen.numel <= chunk * K, seen.numel
    assert math.isfinite(ibot.item()) and leaf_w.grad is not None
    # The check can see a (rows, K) tensor: the unchunked path makes one.
    with _LargestTensor() as seen_plain:
        ibot_patch_ce(F.normalize(leaf_s, dim=-1), F.normalize(leaf_w, dim=-1), build(None),
                      T_STUDENT, None, None).backward()
    assert seen_plain.numel >= rows * K


# -- the tasks: loss.chunk_rows > 0 against the plain path (0) -------------------------------


def _task_steps(task, batch: dict, values: dict, n_steps: int = 2) -> list:
    """Terms, gradients and task state after each of ``n_steps`` forward/backward/teacher
    updates on ``batch`` (no optimiser step: the second step sees the moved centre)."""
    steps = []
    for i in range(n_steps):
        task.zero_grad(set_to_none=True)
        torch.manual_seed(100 + i)  # the same masks in both runs
        out = task(batch, values)
        out["loss"].backward()
        grads = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
        task.update_teacher(values["momentum"])
        terms = {k: v.detach() for k, v in out.items() if torch.is_tensor(v)}
        steps.append((terms, grads, {k: v.clone() for k, v in task.state_dict().items()}))
    return steps


def _assert_same_steps(plain: list, chunked: list) -> None:
    for (terms_p, grads_p, state_p), (terms_c, grads_c, state_c) in zip(plain, chunked):
        assert terms_p.keys() == terms_c.keys()
        for k in terms_p:
            torch.testing.assert_close(terms_c[k], terms_p[k], rtol=1e-4, atol=1e-5, msg=k)
        assert grads_p.keys() == grads_c.keys()
        for k in grads_p:
            torch.testing.assert_close(grads_c[k], grads_p[k], rtol=1e-3, atol=1e-5, msg=k)
        assert state_p.keys() == state_c.keys()
        for k in state_p:
            torch.testing.assert_close(state_c[k], state_p[k], rtol=1e-4, atol=1e-6, msg=k)


@pytest.mark.parametrize("objective,loss,heads", [
    ("dino", {}, {}),
    ("dinov2", {"centering": "sinkhorn"}, {}),
    ("dinov2", {"centering": "ema"}, {"ibot_separate_head": True}),
])
def test_ssl_task_chunked_equals_plain(tmp_path, objective, loss, heads):
    from tests.train.synthetic import SyntheticMultiCrop, tiny_config, write_registry

    from pathfm.models.registry import get_entry
    from pathfm.train.ssl import SSLTask, build_schedules, resolve_config

    registry = write_registry(tmp_path)
    batch = SyntheticMultiCrop().batch(0, 0)
    runs = []
    for chunk_rows in (0, CHUNK):
        cfg = resolve_config(tiny_config(registry, objective=objective, heads=heads,
                                         loss={**loss, "chunk_rows": chunk_rows}))
        torch.manual_seed(0)
        task = SSLTask(cfg, get_entry("tiny-vit", registry))
        values = {k: s(0) for k, s in build_schedules(cfg).items()}
        runs.append(_task_steps(task, batch, values))
    _assert_same_steps(*runs)


@pytest.mark.parametrize("teacher_heads,centering", [
    ("learned", "softmax"), ("checkpoint", "softmax"), ("learned", "sinkhorn")])
def test_h0mini_task_chunked_equals_plain(tmp_path, teacher_heads, centering):
    from tests.train.distill_helpers import h0mini_config, write_models
    from tests.train.synthetic import SyntheticMultiCrop

    from pathfm.train.ddp import DistInfo
    from pathfm.train.distill import build_schedules, build_task
    from pathfm.train.distill_config import resolve_distill_config

    registry = write_models(tmp_path, teacher_heads=teacher_heads == "checkpoint")
    batch = SyntheticMultiCrop().batch(0, 0)
    runs = []
    for chunk_rows in (0, CHUNK):
        cfg = resolve_distill_config({"method": "h0mini", **h0mini_config(
            registry, teacher_heads=teacher_heads,
            loss={"centering": centering, "chunk_rows": chunk_rows})})
        torch.manual_seed(0)
        task = build_task(cfg, DistInfo())
        values = {k: s(0) for k, s in build_schedules(cfg).items()}
        runs.append(_task_steps(task, batch, values))
    _assert_same_steps(*runs)
