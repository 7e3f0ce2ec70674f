"""The gate over a long recording read in chunks: windows are cut from a buffer of at most one
window plus one chunk, so memory stays bounded whatever the duration (24-48 h Holter files).

Window placement equals :func:`~ecgnet_tf.signal_quality.features.window_starts` on the whole
signal: every ``step_s`` from 0, plus one window aligned to the end when the last regular window
leaves a tail; a recording shorter than one window is one (short) window.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from ..preprocess.sqi import SqiConfig, sqi_matrix, window_sqi
from .gate import QualityGate


@dataclass(frozen=True)
class WindowQuality:
    """One examined window: start (s), ok, score in [0, 1], reasons (empty when ok), indices by name."""

    start_s: float
    ok: bool
    score: float
    reasons: tuple[str, ...]
    sqi: dict


def _windows(chunks: Iterable[np.ndarray], fs: float, window_s: float, step_s: float,
             stats: dict | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(start sample, window) pairs over 1-D chunks, with a buffer of at most one window + one chunk;
    ``stats["max_buffer"]`` (when given) records the most samples held at once."""
    w, s = int(round(window_s * fs)), max(1, int(round(step_s * fs)))
    buf = np.zeros(0, np.float64)
    buf_start = 0  # absolute sample index of buf[0]
    next_start = 0
    last_emitted = -1
    n = 0
    for chunk in chunks:
        c = np.asarray(chunk, np.float64).reshape(-1)
        n += c.size
        buf = np.concatenate([buf, c])
        if stats is not None:
            stats["max_buffer"] = max(stats.get("max_buffer", 0), buf.size)
        while next_start + w <= n:
            off = next_start - buf_start
            yield next_start, buf[off:off + w]
            last_emitted = next_start
            next_start += s
        keep_from = max(0, min(next_start, n - w) - buf_start)  # keep the last window's worth for the tail
        buf, buf_start = buf[keep_from:], buf_start + keep_from
    if n == 0:
        return
    if n <= w:
        if last_emitted < 0:
            yield 0, buf[-n:]
    elif last_emitted + w < n:
        yield n - w, buf[buf.size - w:]


def stream_quality(chunks: Iterable[np.ndarray], fs: float, gate: QualityGate,
                   cfg: SqiConfig = SqiConfig(), stats: dict | None = None) -> Iterator[WindowQuality]:
    """Gate decisions for the windows of a recording given as 1-D chunks (mV) at ``fs`` Hz
    (``stats``: see :func:`_windows`)."""
    for start, x in _windows(chunks, fs, gate.window_s, gate.step_s, stats):
        sq = window_sqi(x, fs, cfg)
        d = gate.decide(sqi_matrix([sq]))
        yield WindowQuality(start / fs, bool(d.ok[0]), float(d.score[0]), tuple(d.reasons[0]), sq)


@dataclass
class QualitySummary:
    """Running totals over windows (constant memory): counts, reasons, mean score, rejected time (s)."""

    windows: int = 0
    rejected: int = 0
    reasons: dict = field(default_factory=dict)
    score_sum: float = 0.0
    rejected_s: float = 0.0
    step_s: float = 5.0

    def add(self, w: WindowQuality) -> None:
        self.windows += 1
        self.score_sum += w.score
        if not w.ok:
            self.rejected += 1
            self.rejected_s += self.step_s
            self.reasons[w.reasons[0]] = self.reasons.get(w.reasons[0], 0) + 1

    def merge(self, other: "QualitySummary") -> None:
        self.windows += other.windows
        self.rejected += other.rejected
        self.score_sum += other.score_sum
        self.rejected_s += other.rejected_s
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v

    def to_dict(self) -> dict:
        return {"windows": self.windows, "rejected": self.rejected,
                "reasons": dict(sorted(self.reasons.items())),
                "score_mean": self.score_sum / self.windows if self.windows else 0.0,
                "rejection_rate": self.rejected / self.windows if self.windows else 0.0,
                "rejected_s": self.rejected_s}
