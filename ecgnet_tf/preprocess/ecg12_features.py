"""Median-beat features of a 12-lead ECG: the amplitudes and intervals a cardiologist reads for
myocardial infarction (pathological Q waves, ST deviation, T inversion, lost R waves).

One 10-s PTB-XL record holds about ten beats; their sample-wise median in each lead (aligned on R
peaks found on one reference lead) removes most noise and ectopy. On that median beat:

* Fiducials come from all leads together: the *spatial velocity* (sum over leads of |slope|) of the
  median beats is above ``onset_fraction`` of its peak from QRS onset to QRS offset (the J point),
  searched within ``qrs_search_s`` of R.
* The isoelectric level of each lead is the median of its median beat over the PR segment
  ``[onset - pr_s, onset - 0.01 s]``; every amplitude below is relative to it (mV).
* Per lead (:data:`LEAD_FEATURES`): ``q`` (most negative value between onset and the lead's largest
  positive QRS value, 0 if none is below the isoelectric level; a deep initial negativity is a Q
  wave), ``q_s`` (duration of that initial negative deflection, s), ``r`` (largest QRS value),
  ``s`` (most negative QRS value after R), ``qrs_area`` (net QRS area, mV*s), ``st_j`` / ``st_60``
  (level at J and J + 60 ms), ``st_slope`` (mV/s from J to J + 80 ms), ``t`` (signed extreme in
  J + 80 ms .. J + 400 ms), ``t_mean`` (mean level there: negative for an inverted T).
* Whole record (:data:`GLOBAL_FEATURES`): ``qrs_s`` (onset to offset, s), ``hr_bpm`` (from the median
  RR), ``n_beats``, ``beat_corr`` (mean correlation of each beat with its lead's median beat over
  leads, 0..1: low for noisy or ectopic records).

Units: ``x`` in mV after the project's preprocessing, ``fs`` in Hz, R peaks in samples at ``fs``.
Every entry is finite for any input (0 when there are too few beats for a median beat).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .rr import integer_positions

#: standard 12-lead order of the features (PTB-XL's order)
LEADS_12: tuple[str, ...] = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
#: per-lead entries, in this order for every lead
LEAD_FEATURES: tuple[str, ...] = ("q", "q_s", "r", "s", "qrs_area", "st_j", "st_60", "st_slope", "t", "t_mean")
#: whole-record entries, after the per-lead ones
GLOBAL_FEATURES: tuple[str, ...] = ("qrs_s", "hr_bpm", "n_beats", "beat_corr")
#: every entry of :func:`ecg12_features`: ``<lead>_<feature>`` lead by lead, then the global ones
ECG12_FEATURE_NAMES: tuple[str, ...] = tuple(f"{lead}_{f}" for lead in LEADS_12 for f in LEAD_FEATURES) + GLOBAL_FEATURES


@dataclass(frozen=True)
class Ecg12FeatureConfig:
    """Settings of :func:`ecg12_features` (seconds, fractions)."""

    pre_s: float = 0.35          # median-beat window before R
    post_s: float = 0.60         # median-beat window after R
    qrs_search_s: float = 0.12   # onset / offset searched within this of R
    onset_fraction: float = 0.15  # spatial-velocity threshold (fraction of its peak) of the QRS
    pr_s: float = 0.06           # length of the PR segment that gives the isoelectric level
    min_beats: int = 2           # fewer usable beats: every feature 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def median_beats(x: np.ndarray, rpeaks: np.ndarray, fs: float, config: Ecg12FeatureConfig = Ecg12FeatureConfig()
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """(beats (n_beats, T, C), median beat (T, C), index of R in it) over the beats with a full
    window ``[-pre_s, +post_s]`` around R; beats empty when none has one."""
    pre, post = int(round(config.pre_s * fs)), int(round(config.post_s * fs))
    b = rpeaks[(rpeaks - pre >= 0) & (rpeaks + post < x.shape[0])]
    if b.size == 0:
        return np.zeros((0, pre + post + 1, x.shape[1])), np.zeros((pre + post + 1, x.shape[1])), pre
    idx = b[:, None] + np.arange(-pre, post + 1)[None, :]
    beats = x[idx]
    return beats, np.median(beats, axis=0), pre


def qrs_bounds(template: np.ndarray, r: int, fs: float, config: Ecg12FeatureConfig = Ecg12FeatureConfig()
               ) -> tuple[int, int]:
    """(onset, offset) sample indices of the QRS in a (T, C) median beat whose R is at ``r``: where the
    spatial velocity stays above ``onset_fraction`` of its peak within ``qrs_search_s`` of R."""
    vel = np.abs(np.diff(template, axis=0)).sum(axis=1)
    lo = max(0, r - int(round(config.qrs_search_s * fs)))
    hi = min(vel.size, r + int(round(config.qrs_search_s * fs)))
    if hi <= lo or vel[lo:hi].max() <= 0:
        return r, r
    above = np.flatnonzero(vel[lo:hi] >= config.onset_fraction * vel[lo:hi].max()) + lo
    return int(above[0]), int(min(above[-1] + 1, template.shape[0] - 1))


def _lead_features(beat: np.ndarray, on: int, off: int, fs: float, cfg: Ecg12FeatureConfig) -> list[float]:
    """The :data:`LEAD_FEATURES` of one lead's median beat (T,)."""
    pr = beat[max(0, on - int(round(cfg.pr_s * fs))): max(1, on - int(round(0.01 * fs)))]
    v = beat - (np.median(pr) if pr.size else 0.0)
    qrs = v[on: off + 1]
    r_at = int(np.argmax(qrs))
    r = float(max(qrs[r_at], 0.0))
    head = qrs[: r_at + 1]
    q = float(min(head.min(), 0.0))
    neg = head < 0
    q_s = float(np.argmin(neg) if not neg.all() else neg.size) / fs if neg.size and neg[0] else 0.0
    tail = qrs[r_at:]
    s = float(min(tail.min(), 0.0))
    area = float(qrs.sum() / fs)

    def at(t_s: float) -> float:
        return float(v[min(v.size - 1, off + int(round(t_s * fs)))])

    st_j, st_60, st_80 = at(0.0), at(0.06), at(0.08)
    tz = v[min(v.size - 1, off + int(round(0.08 * fs))): min(v.size, off + int(round(0.40 * fs)) + 1)]
    t = float(tz[np.argmax(np.abs(tz))]) if tz.size else 0.0
    t_mean = float(tz.mean()) if tz.size else 0.0
    return [q, q_s, r, s, area, st_j, st_60, (st_80 - st_j) / 0.08, t, t_mean]


def ecg12_features(x: np.ndarray, rpeaks: np.ndarray, fs: float,
                   config: Ecg12FeatureConfig = Ecg12FeatureConfig()) -> np.ndarray:
    """Median-beat features of a preprocessed 12-lead ECG (definitions in the module docstring).

    Args:
        x: (n, 12) preprocessed ECG in mV, leads in :data:`LEADS_12` order.
        rpeaks: R-peak positions in samples at ``fs`` (found on one lead; used for every lead).
        fs: sampling rate in Hz.
        config: windows and thresholds.

    Returns:
        (len(ECG12_FEATURE_NAMES),) float32, all finite.
    """
    if not fs > 0:
        raise ValueError(f"fs must be positive, got {fs}")
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != len(LEADS_12):
        raise ValueError(f"x must be (n, {len(LEADS_12)}) with leads {LEADS_12}, got shape {x.shape}")
    x = np.where(np.isfinite(x), x, 0.0)
    b = integer_positions(rpeaks, "rpeaks")
    if b.size and (b.min() < 0 or b.max() >= x.shape[0]):
        raise ValueError(f"R peaks must lie inside the signal (0..{x.shape[0] - 1}), got {b.min()}..{b.max()}")
    out = np.zeros(len(ECG12_FEATURE_NAMES), np.float64)
    beats, tmpl, r = median_beats(x, b, fs, config)
    n_glob = len(GLOBAL_FEATURES)
    if len(beats) >= config.min_beats:
        on, off = qrs_bounds(tmpl, r, fs, config)
        rows = [_lead_features(tmpl[:, c], on, off, fs, config) for c in range(tmpl.shape[1])]
        out[: len(ECG12_FEATURE_NAMES) - n_glob] = np.concatenate(rows)
        a = beats - beats.mean(axis=1, keepdims=True)
        t = tmpl - tmpl.mean(axis=0, keepdims=True)
        den = np.sqrt((a ** 2).sum(axis=1) * (t ** 2).sum(axis=0)[None, :])
        corr = np.where(den > 0, (a * t[None]).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)
        out[-n_glob] = (off - on) / fs
        out[-1] = float(np.clip(corr.mean(), 0.0, 1.0))
    out[-2] = float(b.size)
    rr = np.diff(b) / fs
    rr = rr[(rr > 0.25) & (rr < 2.5)]
    if rr.size:
        out[-3] = 60.0 / float(np.median(rr))
    return np.where(np.isfinite(out), out, 0.0).astype(np.float32)


#: leads tried for the R peaks that align every lead's beats (II, I, V2, V5: large, usually clean QRS)
RPEAK_LEADS: tuple[int, ...] = (1, 0, 7, 10)


def reference_rpeaks(x: np.ndarray, fs: float, leads: tuple[int, ...] = RPEAK_LEADS) -> np.ndarray:
    """Pan-Tompkins R peaks (samples) of the lead among ``leads`` whose RR intervals vary least
    (coefficient of variation), among leads with at least 4 peaks; the first lead's otherwise.
    ``x``: (n, C) preprocessed ECG (mV) at ``fs`` Hz."""
    from .rpeaks import pan_tompkins

    x = np.asarray(x)
    best: tuple[float, np.ndarray] | None = None
    first = None
    for lead in leads:
        p = pan_tompkins(x[:, lead], fs)
        first = p if first is None else first
        if p.size >= 4:
            rr = np.diff(p).astype(np.float64)
            cv = float(rr.std() / rr.mean())
            if best is None or cv < best[0]:
                best = (cv, p)
    return best[1] if best is not None else first
