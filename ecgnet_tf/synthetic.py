"""Synthetic ECG with known beats, for tests, demos and the bundled sample recording.

Each beat is a sum of Gaussian waves (P, Q, R, S, T) placed around its R peak. Beat types:
``N`` normal sinus beat, ``S`` premature narrow beat with an abnormal P wave, ``V`` premature wide
beat without P wave and with an inverted T, ``F`` a fusion of N and V, ``Q`` a paced-like beat with
a pacing spike. Rhythm ``af`` draws irregular RR intervals, removes P waves and adds 4-8 Hz
fibrillatory waves. None of this is real data; it only gives signals whose truth is known exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (amplitude mV, centre s relative to R, width s) per wave
_WAVES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "N": ((0.15, -0.20, 0.025), (-0.12, -0.03, 0.010), (1.10, 0.0, 0.012), (-0.25, 0.03, 0.010), (0.30, 0.25, 0.045)),
    "S": ((-0.10, -0.14, 0.020), (-0.10, -0.03, 0.010), (1.00, 0.0, 0.012), (-0.25, 0.03, 0.010), (0.25, 0.23, 0.040)),
    "V": ((-0.30, -0.05, 0.030), (1.60, 0.0, 0.040), (-0.60, 0.08, 0.040), (-0.45, 0.32, 0.060)),
    "F": ((0.08, -0.20, 0.025), (1.30, 0.0, 0.025), (-0.40, 0.05, 0.025), (0.05, 0.28, 0.050)),
    "Q": ((2.0, -0.045, 0.002), (0.9, 0.0, 0.030), (-0.50, 0.06, 0.030), (-0.30, 0.30, 0.060)),
}
_PREMATURE = {"S": 0.70, "V": 0.65, "F": 0.95, "N": 1.0, "Q": 1.0}


@dataclass(frozen=True)
class SyntheticEcg:
    """Generated signal (n_samples, n_leads) float32 mV with its true beats."""

    signal: np.ndarray
    fs: float
    rpeaks: np.ndarray  # int64 sample indices
    beat_classes: np.ndarray  # one letter per R peak


def _beat(kind: str, t: np.ndarray, with_p: bool) -> np.ndarray:
    out = np.zeros_like(t)
    for i, (a, mu, sd) in enumerate(_WAVES[kind]):
        if i == 0 and kind in ("N", "S", "F") and not with_p:
            continue
        out += a * np.exp(-0.5 * ((t - mu) / sd) ** 2)
    return out


def synth_ecg(
    duration_s: float = 10.0,
    fs: float = 360.0,
    hr_bpm: float = 70.0,
    rhythm: str = "sinus",
    beat_probs: dict[str, float] | None = None,
    n_leads: int = 1,
    noise_mv: float = 0.01,
    seed: int = 0,
) -> SyntheticEcg:
    """Generate an ECG of ``duration_s`` seconds at ``fs`` Hz.

    Args:
        rhythm: "sinus" (RR jitter 3%) or "af" (irregular RR, no P waves, f-waves).
        beat_probs: probability of each beat class, e.g. {"N": 0.8, "V": 0.2}; default all N.
        n_leads: leads are scaled/inverted copies with independent noise (a crude lead set).
        noise_mv: white-noise standard deviation in mV.
    """
    if rhythm not in ("sinus", "af"):
        raise ValueError(f"rhythm must be 'sinus' or 'af', got {rhythm!r}")
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fs))
    probs = beat_probs or {"N": 1.0}
    kinds = list(probs)
    p = np.array([probs[k] for k in kinds], dtype=float)
    p = p / p.sum()
    rr0 = 60.0 / hr_bpm
    peaks, classes = [], []
    t = 0.35 + rng.uniform(0, rr0 / 2)
    while t < duration_s - 0.45:
        kind = kinds[rng.choice(len(kinds), p=p)]
        peaks.append(int(round(t * fs)))
        classes.append(kind)
        if rhythm == "af":
            rr = rr0 * rng.uniform(0.55, 1.45)
        else:
            rr = rr0 * (1 + 0.03 * rng.standard_normal())
        nxt = kinds[rng.choice(len(kinds), p=p)]
        t += rr * _PREMATURE.get(nxt, 1.0) if nxt != "N" else rr
    x = np.zeros(n)
    tt = np.arange(n) / fs
    half = int(0.6 * fs)
    for r, kind in zip(peaks, classes):
        lo, hi = max(r - half, 0), min(r + half, n)
        x[lo:hi] += _beat(kind, tt[lo:hi] - r / fs, with_p=rhythm != "af")
    if rhythm == "af":
        f = rng.uniform(4.0, 8.0)
        x += 0.05 * np.sin(2 * np.pi * f * tt + rng.uniform(0, 2 * np.pi)) * (1 + 0.3 * np.sin(2 * np.pi * 0.3 * tt))
    gains = np.array([1.0, 0.7, -0.4, 0.9, 1.2, 0.5, -0.8, 0.6, 1.1, 0.8, 0.4, -0.6])
    leads = [gains[i % len(gains)] * x + noise_mv * rng.standard_normal(n) for i in range(n_leads)]
    sig = np.stack(leads, axis=1).astype(np.float32)
    return SyntheticEcg(sig, float(fs), np.asarray(peaks, dtype=np.int64), np.asarray(classes, dtype="<U1"))
