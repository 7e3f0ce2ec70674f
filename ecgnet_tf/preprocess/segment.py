"""Cutting signals into beat-centred windows and fixed-length (overlapping) segments."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 1:
        return x[:, None]
    if x.ndim != 2:
        raise ValueError(f"expected (n_samples,) or (n_samples, n_leads), got shape {x.shape}")
    return x


def beat_windows(x: np.ndarray, rpeaks: np.ndarray, fs: float, window_s: float = 2.5
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``window_s`` seconds centred on each R peak.

    The window has ``W = round(window_s * fs)`` samples and starts at ``r - W // 2``, so the R peak
    sits at index ``W // 2``. Beats whose window would cross the signal edges are dropped.

    Returns:
        windows: (k, W, C) float32; kept: int64 indices into ``rpeaks`` of the k kept beats.
    """
    x2 = _as_2d(x)
    rpeaks = np.asarray(rpeaks, dtype=np.int64)
    w = int(round(window_s * fs))
    half = w // 2
    starts = rpeaks - half
    kept = np.flatnonzero((starts >= 0) & (starts + w <= x2.shape[0]))
    if kept.size == 0:
        return np.zeros((0, w, x2.shape[1]), dtype=np.float32), kept.astype(np.int64)
    idx = starts[kept][:, None] + np.arange(w)[None, :]
    return x2[idx].astype(np.float32), kept.astype(np.int64)


@dataclass
class Segments:
    """Fixed-length segments of one record.

    Attributes:
        windows: (k, W, C) float32.
        starts: (k,) int64 start sample of each segment in the record (may be 0 for a padded one).
        rpeaks: k int64 arrays: R-peak positions relative to each segment start (0 <= r < W).
        padded: number of zero samples appended at the end of the record (0 unless it was short).
    """

    windows: np.ndarray
    starts: np.ndarray
    rpeaks: list[np.ndarray] = field(default_factory=list)
    padded: int = 0


def fixed_segments(x: np.ndarray, rpeaks: np.ndarray | None, fs: float, segment_s: float = 10.0,
                   overlap: float = 0.5) -> Segments:
    """Cut ``x`` into windows of ``segment_s`` seconds with fractional ``overlap`` (0 <= overlap < 1).

    Segment starts are ``0, hop, 2*hop, ...`` with ``hop = round(W * (1 - overlap))`` samples; a tail
    shorter than a full segment is dropped. A record shorter than one segment is zero-padded at the
    end to exactly one segment (``Segments.padded`` tells how many samples were added).
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    x2 = _as_2d(x)
    w = int(round(segment_s * fs))
    hop = max(1, int(round(w * (1 - overlap))))
    n = x2.shape[0]
    padded = 0
    if n < w:
        padded = w - n
        x2 = np.concatenate([x2, np.zeros((padded, x2.shape[1]), dtype=x2.dtype)], axis=0)
        n = w
    starts = np.arange(0, n - w + 1, hop, dtype=np.int64)
    idx = starts[:, None] + np.arange(w)[None, :]
    windows = x2[idx].astype(np.float32)
    r = np.sort(np.asarray(rpeaks if rpeaks is not None else [], dtype=np.int64))
    lo = np.searchsorted(r, starts, side="left")
    hi = np.searchsorted(r, starts + w, side="left")
    rel = [r[a:b] - s for a, b, s in zip(lo, hi, starts)]
    return Segments(windows=windows, starts=starts, rpeaks=rel, padded=padded)
