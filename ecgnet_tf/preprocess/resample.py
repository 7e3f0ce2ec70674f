"""Polyphase anti-aliased resampling of signals, and mapping of sample indices between rates."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal as sps

from .filters import _as_float


def rational_ratio(fs_in: float, fs_out: float, max_denominator: int = 1000) -> tuple[int, int]:
    """(up, down) integers with up/down ~= fs_out/fs_in (exact for integer rates such as 100->360)."""
    if fs_in <= 0 or fs_out <= 0:
        raise ValueError(f"sampling rates must be positive, got {fs_in} -> {fs_out}")
    frac = Fraction(float(fs_out) / float(fs_in)).limit_denominator(max_denominator)
    return frac.numerator, frac.denominator


def resample_signal(x: np.ndarray, fs_in: float, fs_out: float = 360.0) -> np.ndarray:
    """Resample along axis 0 from ``fs_in`` to ``fs_out`` Hz with scipy's polyphase FIR
    (Kaiser window, anti-aliasing low-pass at the lower Nyquist rate). Zero delay: sample 0 stays
    at t=0. Output length is ``ceil(n * up / down)``. Returns float64 (a copy when rates match)."""
    x = _as_float(x)
    up, down = rational_ratio(fs_in, fs_out)
    if up == down:
        return x.copy()
    return sps.resample_poly(x, up, down, axis=0, padtype="line")


def resample_indices(idx: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Map sample indices at ``fs_in`` Hz to the nearest sample indices at ``fs_out`` Hz (int64)."""
    idx = np.asarray(idx, dtype=np.float64)
    return np.rint(idx * (float(fs_out) / float(fs_in))).astype(np.int64)
