"""Synthetic noise for robustness curves, added at a chosen signal-to-noise ratio.

Three kinds, each a unit-variance (n,) array scaled by :func:`add_noise`:

* ``gaussian``: white Gaussian noise (amplifier / quantisation-like, flat spectrum).
* ``baseline``: baseline wander, three sinusoids of random frequency in 0.05-0.5 Hz (respiration,
  slow electrode drift) with random phases and weights, plus a random walk low-passed at 0.3 Hz.
* ``motion``: electrode-motion-like bursts, modelled on what the MIT-BIH Noise Stress Test "em"
  record looks like: bursts of 0.5-3 s (uniform) starting on average every 6 s (exponential gaps);
  inside a burst, 1-10 Hz band-limited noise (which overlaps the QRS band, unlike wander) plus one
  step offset that decays with a 0.3 s time constant, under a raised-cosine envelope; silence between
  bursts. The overall power is 1, so at a given SNR the bursts themselves are much stronger.

SNR (dB) = 10 log10(P_signal / P_noise), with P_signal the power of the clean signal band-passed
0.5-40 Hz over the whole input (so the signal's own baseline does not count as signal).
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

from ..preprocess.filters import bandpass

NOISE_KINDS: tuple[str, ...] = ("gaussian", "baseline", "motion")


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean()
    s = v.std()
    return v / s if s > 0 else v


def baseline_noise(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance baseline wander (n,)."""
    t = np.arange(n) / fs
    f = rng.uniform(0.05, 0.5, 3)
    w = rng.uniform(0.5, 1.0, 3)
    ph = rng.uniform(0, 2 * np.pi, 3)
    sines = (w[:, None] * np.sin(2 * np.pi * f[:, None] * t[None, :] + ph[:, None])).sum(axis=0)
    walk = np.cumsum(rng.normal(size=n))
    if n > 64:
        sos = sps.butter(2, 0.3, btype="low", fs=fs, output="sos")
        walk = sps.sosfiltfilt(sos, walk - walk.mean())
    return _unit(_unit(sines) + 0.5 * _unit(walk))


def motion_noise(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance electrode-motion-like bursts (n,) (see the module docstring)."""
    out = np.zeros(n)
    band = rng.normal(size=n)
    if n > 64:
        band = bandpass(band, fs, 1.0, min(10.0, 0.45 * fs), order=2)
    t = rng.exponential(6.0)
    while t * fs < n:
        dur = rng.uniform(0.5, 3.0)
        a, b = int(t * fs), min(n, int((t + dur) * fs))
        if b - a > 2:
            env = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(b - a) / (b - a - 1))
            step = rng.normal() * 2.0 * np.exp(-np.arange(b - a) / (0.3 * fs))
            out[a:b] += env * (band[a:b] / (band[a:b].std() + 1e-12) + step)
        t += dur + rng.exponential(6.0)
    rms = float(np.sqrt(np.mean(out ** 2)))
    return out / rms if rms > 0 else out  # unit power, silence stays exactly 0


def noise_of(kind: str, n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise of ``kind`` (one of :data:`NOISE_KINDS`), (n,) at ``fs`` Hz."""
    if kind == "gaussian":
        return rng.normal(size=n)
    if kind == "baseline":
        return baseline_noise(n, fs, rng)
    if kind == "motion":
        return motion_noise(n, fs, rng)
    raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")


def signal_power(x: np.ndarray, fs: float) -> float:
    """Power (mV^2) of ``x`` band-passed 0.5-40 Hz."""
    x = np.asarray(x, np.float64)
    return float(np.mean(bandpass(x, fs, 0.5, min(40.0, 0.45 * fs)) ** 2)) if x.size > 64 else float(np.var(x))


def add_noise(x: np.ndarray, fs: float, kind: str, snr_db: float, seed: int) -> np.ndarray:
    """``x`` (n,) mV plus noise of ``kind`` at ``snr_db`` dB (seeded: the same call gives the same noise)."""
    x = np.asarray(x, np.float64)
    rng = np.random.default_rng(seed)
    noise = noise_of(kind, x.size, fs, rng)
    return x + noise * np.sqrt(signal_power(x, fs) / 10.0 ** (snr_db / 10.0))
