"""Bytes of the prototype losses (DINO on CLS scores, iBOT on patch scores) per step.

A loss over ``rows`` student rows against ``K`` prototypes works on (rows × K) score
matrices. Unchunked (``loss.chunk_rows`` 0 / null, the losses of ``pathfm.losses``), per
score element, ``a`` the compute dtype's bytes:

- ``fwd_live``: alive until the task's forward returns — the teacher's logits and the
  student head's output, both in the compute dtype (locals of the task's forward);
- ``kept``: alive until this loss's backward ran — the fp32 teacher targets and the fp32
  log-softmax the cross-entropy saved (8 B);
- ``fwd_transient``: on top, while the loss runs forward — the scaled logits beside the
  fp32 cast of the logits, then beside the log-softmax (4 B);
- ``bwd_transient``: the two fp32 gradients of the log-softmax's backward (8 B).

Chunked (``chunk_rows`` = c > 0, ``pathfm.losses.chunked_prototype_ce``): the heads emit
normalised bottleneck features, the teacher's targets are recomputed from its features on
demand and the fused cross-entropy keeps one log-sum-exp per row, so nothing ∝ rows × K
outlives a chunk of min(rows, c) rows: a chunk's fp32 targets and scores (and the
previous chunk's, still bound in the loop) in the forward, recomputed with their
gradient in the backward; the (K, bottleneck) prototypes are held normalised in fp32,
copied in the compute dtype, and get an fp32 gradient.

The DINO loss concatenates the crops' scores (one more compute-dtype copy alive in the
forward) and the einsum over crop pairs copies the teacher targets into its layout.
The constants are checked against measured peaks in tests/planning/test_gpu_memory.py.
"""

from __future__ import annotations

from dataclasses import dataclass

FP32 = 4


@dataclass(frozen=True)
class LossTerm:
    """One prototype loss of a step: ``rows`` student rows × ``K`` prototypes, against
    ``teacher_rows`` teacher rows (default ``rows``; DINO: the 2 global crops' rows);
    ``bottleneck``: the heads' bottleneck width (the fused path's (K, d) tensors)."""

    name: str
    rows: int
    K: int
    a: int                   # compute-dtype bytes
    chunk_rows: int | None   # None / 0: the plain path
    kind: str = "ibot"       # ibot | dino | ibot_indexed (targets gathered by a mask)
    teacher_rows: int | None = None
    bottleneck: int = 0

    @property
    def chunked(self) -> bool:
        """The fused path, whenever chunk_rows is set (one chunk if rows <= chunk_rows)."""
        return bool(self.chunk_rows)

    def _rows(self, n: int) -> int:
        return min(n, self.chunk_rows) if self.chunked else n

    def _s(self) -> int:   # student score elements live at once
        return self._rows(self.rows) * self.K

    def _t(self) -> int:   # teacher score elements live at once
        n = self.rows if self.teacher_rows is None else self.teacher_rows
        if self.chunked and self.kind == "dino":  # whole images per chunk, T of S crops
            return self._s() * n // max(self.rows, 1)
        return self._rows(n) * self.K

    def _kd(self) -> int:
        return self.K * self.bottleneck

    def fwd_live(self) -> int:
        if self.chunked:
            return 0
        if self.kind == "dino":  # head outputs of global / local crops + their concatenation
            return self._s() * 2 * self.a + self._t() * self.a
        return self._s() * self.a + (0 if self.kind == "ibot_indexed" else self._t() * self.a)

    def kept(self) -> int:
        if self.chunked:
            # fp32 normalised student prototypes, the targets' (K, d) prototypes and
            # (rows, d) features in the compute dtype, one fp32 log-sum-exp per row.
            n_t = 0 if self.kind == "ibot_indexed" else (
                self.rows if self.teacher_rows is None else self.teacher_rows)
            return self._kd() * (FP32 + self.a) + n_t * self.bottleneck * self.a + self.rows * FP32
        return self._s() * FP32 + self._t() * FP32  # log-softmax, targets (or their gather)

    def _buffers(self) -> int:
        """fp32 (chunk, K) buffers alive at once: targets and scores of a chunk, and of the
        previous chunk, still bound in the loop, when there is more than one chunk."""
        return 3 if self.rows > self._rows(self.rows) else 2

    def _partners(self) -> int:
        # DINO's chunks also hold each teacher crop's targets beside their partner sums.
        return self._t() * FP32 if self.kind == "dino" else 0

    def fwd_transient(self) -> int:
        if self.chunked:
            # The next chunk's fp32 targets and scores are made while the previous chunk's
            # are still bound in the loop (3 fp32 buffers), each from a compute-dtype
            # product; the (K, d) prototypes in the compute dtype.
            low = self.a if self.a != FP32 else 0
            # A single chunk's log-sum-exp temporary takes the previous chunk's place.
            return self._s() * (3 * FP32 + low) + self._partners() + self._kd() * low
        cast = FP32 if self.a != FP32 else 0
        if self.kind == "dino":  # the einsum over crop pairs lays the log-softmax out again
            return self._s() * (FP32 + cast)
        # The scaled logits beside the fp32 cast, then beside the log-softmax (kept).
        return self._s() * FP32

    def bwd_transient(self) -> int:
        if self.chunked:
            # Recomputed targets and scores turned gradient, beside the previous chunk's
            # (with its compute-dtype copy of the gradient); the prototypes' fp32 gradient
            # and each chunk's partial product.
            low = self.a if self.a != FP32 else 0
            return (self._s() * (self._buffers() * FP32 + 2 * low) + self._partners()
                    + self._kd() * (FP32 + self.a + (low + FP32 if low else 0)))
        return self._s() * 2 * FP32

    def teacher_targets_peak(self) -> int:
        """While the teacher's targets are made (before the student's forward): logits,
        and the fp32 temporaries of centring, sharpening and softmax (streamed per chunk
        on the fused path: Sinkhorn's passes, the collapse statistics)."""
        if self.kind == "ibot_indexed":
            return 0
        if self.chunked:
            return self._t() * (self.a + 2 * FP32) + self._kd() * self.a
        return self._t() * (self.a + 3 * FP32)


def forward_peak(terms: list[LossTerm]) -> int:
    """Peak over the losses run in order: earlier losses' live + kept bytes, this one's."""
    peak, held = 0, 0
    for t in terms:
        peak = max(peak, held + t.fwd_live() + t.kept() + t.fwd_transient())
        held += t.fwd_live() + t.kept()
    return peak


def held_after_forward(terms: list[LossTerm], returned: bool) -> int:
    """Bytes the losses hold after running: kept (and live ones while the forward goes on)."""
    return sum(t.kept() + (0 if returned else t.fwd_live()) for t in terms)


def backward_peak(terms: list[LossTerm]) -> int:
    """Backward runs the losses one at a time while every loss's kept bytes wait."""
    if not terms:
        return 0
    return sum(t.kept() for t in terms) + max(t.bwd_transient() for t in terms)
