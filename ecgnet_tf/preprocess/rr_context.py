"""How irregular a patient's recent rhythm is: context for reading a beat's prematurity.

A beat 20 % early is a strong sign of a supraventricular ectopic beat in a steady sinus rhythm and
means nothing in atrial fibrillation, where every interval differs from the last. The RR features
(:mod:`.rr`) say how early a beat is; these two say how much early means here. For beat i, with
``h`` the pre-RR intervals (seconds, as :func:`~ecgnet_tf.preprocess.rr_features` reports them,
clipped into the plausible range) of the ``history`` beats **before** it:

* ``recent_sd_ratio``: population standard deviation of ``h`` over its mean (coefficient of
  variation, dimensionless);
* ``recent_msd_ratio``: mean absolute difference of successive values of ``h`` over its mean.

Both are 0 while fewer than ``min_history`` previous beats are known (warm-up: the first beats of a
record or stream count as regular). The beat's own interval never enters its context, so an ectopic
beat cannot make its own rhythm look irregular. Causal: beat i's row uses beats before it only.
:class:`RRContextTracker` computes the rows beat by beat, and :func:`rr_context` is that tracker run
over a record, so a streaming monitor and a whole-record pipeline give identical numbers.
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

#: Column names of :func:`rr_context` (dimensionless).
RR_CONTEXT_NAMES: tuple[str, ...] = ("recent_sd_ratio", "recent_msd_ratio")


@dataclass(frozen=True)
class RRContextConfig:
    """history: previous beats whose pre-RR intervals form the context; min_history: fewer known
    previous beats give zeros (warm-up)."""

    history: int = 10
    min_history: int = 3

    def __post_init__(self) -> None:
        if int(self.history) != self.history or self.history < 2:
            raise ValueError(f"history must be an integer >= 2, got {self.history!r}")
        if int(self.min_history) != self.min_history or not 2 <= self.min_history <= self.history:
            raise ValueError(f"min_history must be an integer in [2, history], got {self.min_history!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _row(h: np.ndarray) -> tuple[float, float]:
    mean = float(np.mean(h))
    if not mean > 0:
        return 0.0, 0.0
    return float(np.std(h)) / mean, float(np.mean(np.abs(np.diff(h)))) / mean


class RRContextTracker:
    """Streaming context rows: ``push(pre_rr_s)`` for each beat in order returns that beat's (2,)
    float32 row, computed from the beats pushed before it."""

    def __init__(self, config: RRContextConfig = RRContextConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget every beat (start of a new record or after a gap in the stream)."""
        self._h: deque[float] = deque(maxlen=int(self.config.history))

    def push(self, pre_rr_s: float) -> np.ndarray:
        v = float(pre_rr_s)
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"pre-RR must be a finite, non-negative number of seconds, got {pre_rr_s!r}")
        row = (0.0, 0.0) if len(self._h) < self.config.min_history else _row(np.fromiter(self._h, np.float64))
        self._h.append(v)
        return np.asarray(row, np.float32)


def rr_context(pre_rr_s: np.ndarray, config: RRContextConfig = RRContextConfig()) -> np.ndarray:
    """(n, 2) float32 context rows (:data:`RR_CONTEXT_NAMES`) of a record's beats in order, from their
    (n,) pre-RR intervals in seconds (column ``pre_rr_s`` of :func:`~ecgnet_tf.preprocess.rr_features`)."""
    pre = np.asarray(pre_rr_s, np.float64)
    if pre.ndim != 1:
        raise ValueError(f"pre_rr_s must be 1-D, got shape {pre.shape}")
    tr = RRContextTracker(config)
    return np.stack([tr.push(v) for v in pre]) if pre.size else np.zeros((0, len(RR_CONTEXT_NAMES)), np.float32)
