"""Signal-quality gate for ECG windows: flat line, clipping, saturation, HF noise, implausible rate."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps

from .rpeaks import pan_tompkins

REASONS: tuple[str, ...] = ("FLAT_LINE", "CLIPPING", "SATURATION", "HF_NOISE", "IMPLAUSIBLE_HR")


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds (amplitudes in mV, times in s, rates in bpm, frequencies in Hz).

    flat_ptp_mv: a lead whose robust peak-to-peak (1st..99th percentile) is below this is flat.
    flat_run_s: a run of identical consecutive samples this long also counts as flat.
    clip_tol: samples within ``clip_tol * ptp`` of the lead's max (or min) count as "at the rail".
    clip_fraction: CLIPPING when more than this fraction of samples sits at one rail in runs of
        at least ``clip_run_s``.
    saturation_mv: SATURATION when the robust amplitude (99.5th percentile of |x - median|) exceeds it.
    hf_low_hz: lower edge of the "high-frequency" band (upper edge 0.45*fs).
    hf_rel_max: HF_NOISE when the HF share of the 0.5 Hz..0.45*fs power exceeds this fraction of
        the share white noise would have (so the gate works at any sampling rate).
    hr_bpm: plausible heart-rate range from the median RR interval.
    min_beats: fewer detected beats than this in a window of at least ``min_beats_window_s`` s is
        IMPLAUSIBLE_HR.
    """

    flat_ptp_mv: float = 0.05
    flat_run_s: float = 1.0
    clip_tol: float = 0.005
    clip_fraction: float = 0.03
    clip_run_s: float = 0.02
    saturation_mv: float = 5.0
    hf_low_hz: float = 40.0
    hf_rel_max: float = 0.35
    hr_bpm: tuple[float, float] = (30.0, 220.0)
    min_beats: int = 2
    min_beats_window_s: float = 4.0


@dataclass(frozen=True)
class QualityReport:
    """ok is True when no reason was raised; metrics hold per-lead lists and the heart rate."""

    ok: bool
    reasons: tuple[str, ...]
    metrics: dict = field(default_factory=dict)


def _longest_run(mask: np.ndarray) -> np.ndarray:
    """Longest run of True along axis 0 for each column of a (n, C) boolean array."""
    n, c = mask.shape
    out = np.zeros(c, dtype=np.int64)
    padded = np.concatenate([np.zeros((1, c), bool), mask, np.zeros((1, c), bool)], axis=0).astype(np.int8)
    d = np.diff(padded, axis=0)
    for j in range(c):  # loop over leads only
        starts = np.flatnonzero(d[:, j] == 1)
        ends = np.flatnonzero(d[:, j] == -1)
        if starts.size:
            out[j] = int((ends - starts).max())
    return out


def _run_mask(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Samples of ``mask`` (n, C) that belong to a True run of at least ``min_len`` samples."""
    if min_len <= 1:
        return mask
    k = np.ones(min_len)
    # a sample is in a long run if some length-min_len window containing it is all True
    full = np.apply_along_axis(lambda m: np.convolve(m, k, mode="valid") >= min_len - 0.5, 0, mask.astype(float))
    out = np.zeros_like(mask)
    for s in range(min_len):
        out[s:s + full.shape[0]] |= full
    return out


def assess_quality(x: np.ndarray, fs: float, rpeaks: np.ndarray | None = None,
                   cfg: QualityConfig = QualityConfig()) -> QualityReport:
    """Check a window ``x`` ((n,) or (n, C), mV, ``fs`` Hz). A reason is raised when any lead fails.

    ``rpeaks`` (sample indices) are used for the heart-rate check; when None they are detected with
    Pan-Tompkins on lead 0.
    """
    x2 = np.asarray(x, dtype=np.float64)
    x2 = x2[:, None] if x2.ndim == 1 else x2
    n, c = x2.shape
    reasons: list[str] = []
    metrics: dict = {}
    if not np.all(np.isfinite(x2)):
        return QualityReport(False, ("FLAT_LINE",), {"nonfinite": True})

    lo, hi = np.percentile(x2, [1, 99], axis=0)
    ptp = hi - lo
    run = _longest_run(np.r_[np.zeros((1, c), bool), np.diff(x2, axis=0) == 0]) + 1
    flat = (ptp < cfg.flat_ptp_mv) | (run >= cfg.flat_run_s * fs)
    metrics["ptp_mv"] = ptp.tolist()
    metrics["longest_constant_run_s"] = (run / fs).tolist()
    if np.any(flat):
        reasons.append("FLAT_LINE")

    full = x2.max(axis=0) - x2.min(axis=0)
    tol = cfg.clip_tol * np.maximum(full, 1e-12)
    at_max = x2 >= x2.max(axis=0) - tol
    at_min = x2 <= x2.min(axis=0) + tol
    rl = max(2, int(round(cfg.clip_run_s * fs)))
    clip_frac = np.maximum(_run_mask(at_max, rl).mean(axis=0), _run_mask(at_min, rl).mean(axis=0))
    metrics["clipped_fraction"] = clip_frac.tolist()
    if np.any(clip_frac > cfg.clip_fraction) and not np.all(flat):
        reasons.append("CLIPPING")

    amp = np.percentile(np.abs(x2 - np.median(x2, axis=0)), 99.5, axis=0)
    metrics["robust_amplitude_mv"] = amp.tolist()
    if np.any(amp > cfg.saturation_mv):
        reasons.append("SATURATION")

    top = 0.45 * fs
    if top > cfg.hf_low_hz + 1 and n >= 32:
        f, p = sps.welch(x2, fs=fs, nperseg=int(min(n, round(2 * fs))), axis=0)
        band = (f >= 0.5) & (f <= top)
        hfb = (f >= cfg.hf_low_hz) & (f <= top)
        total = p[band].sum(axis=0)
        share = np.where(total > 0, p[hfb].sum(axis=0) / np.maximum(total, 1e-30), 0.0)
        white = hfb.sum() / max(band.sum(), 1)
        rel = share / white
        metrics["hf_share_rel_white"] = rel.tolist()
        if np.any(rel > cfg.hf_rel_max):
            reasons.append("HF_NOISE")

    if rpeaks is None:
        rpeaks = pan_tompkins(x2[:, 0], fs) if "FLAT_LINE" not in reasons else np.zeros(0, np.int64)
    r = np.sort(np.asarray(rpeaks, dtype=np.int64))
    hr = float(60.0 * fs / np.median(np.diff(r))) if r.size >= 2 else float("nan")
    metrics["heart_rate_bpm"] = hr
    metrics["n_beats"] = int(r.size)
    few = r.size < cfg.min_beats and n >= cfg.min_beats_window_s * fs
    if few or (np.isfinite(hr) and not cfg.hr_bpm[0] <= hr <= cfg.hr_bpm[1]):
        reasons.append("IMPLAUSIBLE_HR")
    return QualityReport(ok=not reasons, reasons=tuple(reasons), metrics=metrics)
