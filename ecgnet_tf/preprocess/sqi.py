"""Signal-quality indices (SQIs) of one ECG lead window: numbers with units, never verdicts.

Each index is a pure function of the window (mV, ``fs`` Hz) and its R peaks; :func:`window_sqi`
computes them all at once (one Welch spectrum, two detectors). The verdict (ok / reasons / score)
is the job of the gate (:mod:`ecgnet_tf.signal_quality`), which is fitted on labelled training
records. Indices and their references:

===================  ===========================================================  ==========
name                 what it measures                                             range/unit
===================  ===========================================================  ==========
``bsqi``             agreement of Pan-Tompkins and the Shannon-energy detector     [0, 1]
                     within 150 ms: matched / (n1 + n2 - matched) (Li, Mark &
                     Clifford 2008)
``tsqi``             mean correlation of each beat with its 2nd most similar       [0, 1]
                     beat in the window (a recurring-morphology form of template
                     matching, Orphanidou et al. 2015); negative -> 0
``ksqi``             kurtosis of the samples (Pearson, Gaussian = 3; clean ECG     >= 1
                     is peaked, > 5; Clifford et al. 2012)
``ssqi``             |skewness| of the samples (Clifford et al. 2012)              >= 0
``psqi``             power 5-15 Hz / power 5-40 Hz (QRS band share; Clifford       [0, 1]
                     et al. 2012)
``bassqi``           1 - power 0-1 Hz / power 0-40 Hz (baseline share; Li &        [0, 1]
                     Clifford 2012)
``hfsqi``            power 40-100 Hz / power 0.5-100 Hz (muscle / electrode noise) [0, 1]
``qrs_snr_db``       median QRS amplitude of the 5-15 Hz signal over the RMS of    dB
                     that signal away from the QRS complexes (>= 100 ms off)
``beats_per_min``    Pan-Tompkins detections per minute                            1/min
``amplitude_mv``     99.5th percentile of |x - median|                             mV
``flat_s``           longest run of identical consecutive samples                  s
``clipped_fraction`` fraction of samples at the window's max or min in runs of at  [0, 1]
                     least 20 ms (see :mod:`.quality`)
===================  ===========================================================  ==========

A window with too few beats for an index gets the index's worst value (0 for the [0, 1] ones,
0 dB for the SNR), never NaN, so the gate always sees numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import signal as sps

from .energy_peaks import EnergyDetectorConfig, energy_rpeaks
from .filters import bandpass
from .rpeaks import pan_tompkins

SQI_NAMES: tuple[str, ...] = ("bsqi", "tsqi", "ksqi", "ssqi", "psqi", "bassqi", "hfsqi", "qrs_snr_db",
                              "beats_per_min", "amplitude_mv", "flat_s", "clipped_fraction")


@dataclass(frozen=True)
class SqiConfig:
    """Times in seconds, frequencies in Hz."""

    match_tol_s: float = 0.15
    template_s: tuple[float, float] = (0.25, 0.40)  # before / after the R peak
    min_template_beats: int = 3
    qrs_band_hz: tuple[float, float] = (5.0, 15.0)
    total_band_hz: tuple[float, float] = (5.0, 40.0)
    baseline_hz: float = 1.0
    baseline_total_hz: float = 40.0
    hf_band_hz: tuple[float, float] = (40.0, 100.0)
    welch_s: float = 4.0
    qrs_exclusion_s: float = 0.10
    clip_tol: float = 0.005
    clip_run_s: float = 0.02
    detector: EnergyDetectorConfig = EnergyDetectorConfig()


def match_peaks(a: np.ndarray, b: np.ndarray, tol: int) -> int:
    """Number of one-to-one matches between sorted peak sets ``a`` and ``b`` (samples) within ``tol``."""
    a = np.sort(np.asarray(a, np.int64))
    b = np.sort(np.asarray(b, np.int64))
    if a.size == 0 or b.size == 0:
        return 0
    j = np.clip(np.searchsorted(b, a), 1, b.size - 1) if b.size > 1 else np.zeros(a.size, np.int64)
    if b.size > 1:
        left, right = b[j - 1], b[j]
        nearest = np.where(np.abs(a - left) <= np.abs(right - a), j - 1, j)
    else:
        nearest = j
    ok = np.abs(a - b[nearest]) <= tol
    return int(np.unique(nearest[ok]).size)


def bsqi(peaks_a: np.ndarray, peaks_b: np.ndarray, fs: float, tol_s: float = 0.15) -> float:
    """Detector agreement in [0, 1]: matched / (n_a + n_b - matched); 0 when neither found a beat."""
    m = match_peaks(peaks_a, peaks_b, max(1, int(round(tol_s * fs))))
    denom = len(peaks_a) + len(peaks_b) - m
    return float(m / denom) if denom > 0 else 0.0


def tsqi(x: np.ndarray, peaks: np.ndarray, fs: float, before_s: float = 0.25, after_s: float = 0.40,
         min_beats: int = 3, neighbours: int = 2) -> float:
    """Recurring-morphology index in [0, 1]: mean over complete beats of each beat's correlation with
    its ``neighbours``-th most similar other beat of the window (negative -> 0).

    A beat scores high when at least ``neighbours`` other beats share its shape, so frequent ectopic
    beats of one or several morphologies (bigeminy, multiform PVCs, fusion beats) are not taken for
    noise, while a beat distorted by an artefact finds no look-alikes. On CinC 2017 its window AUC for
    the noisy class equals that of a one-or-two median-template index (Orphanidou et al. 2015), and it
    reads far less of MIT-BIH's ectopy as unstable morphology (``docs/results/quality``).
    """
    x = np.asarray(x, np.float64)
    pre, post = int(round(before_s * fs)), int(round(after_s * fs))
    p = np.asarray(peaks, np.int64)
    p = p[(p - pre >= 0) & (p + post < x.size)]
    if p.size < max(min_beats, neighbours + 1):
        return 0.0
    beats = x[p[:, None] + np.arange(-pre, post)[None, :]]
    beats = beats - beats.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(beats, axis=1)
    norm = np.where(norm > 0, norm, np.inf)
    corr = (beats @ beats.T) / np.outer(norm, norm)
    np.fill_diagonal(corr, -1.0)
    kth = np.sort(corr, axis=1)[:, -neighbours]
    return float(np.clip(kth.mean(), 0.0, 1.0))


def moments(x: np.ndarray) -> tuple[float, float]:
    """(kurtosis (Pearson, Gaussian = 3), |skewness|) of the samples; (0, 0) for a constant window."""
    x = np.asarray(x, np.float64)
    d = x - x.mean()
    v = float(np.mean(d * d))
    if v <= 0:
        return 0.0, 0.0
    return float(np.mean(d ** 4) / v ** 2), float(abs(np.mean(d ** 3)) / v ** 1.5)


def spectrum_sqis(x: np.ndarray, fs: float, cfg: SqiConfig = SqiConfig()) -> tuple[float, float, float]:
    """(psqi, bassqi, hfsqi) from one Welch spectrum (segments of ``cfg.welch_s`` s)."""
    x = np.asarray(x, np.float64)
    if x.size < 16:
        return 0.0, 0.0, 0.0
    f, p = sps.welch(x, fs=fs, nperseg=int(min(x.size, round(cfg.welch_s * fs))))

    def power(lo: float, hi: float) -> float:
        return float(p[(f >= lo) & (f <= hi)].sum())

    tot = power(*cfg.total_band_hz)
    psqi = power(*cfg.qrs_band_hz) / tot if tot > 0 else 0.0
    base_tot = power(0.0, cfg.baseline_total_hz)
    bassqi = 1.0 - power(0.0, cfg.baseline_hz) / base_tot if base_tot > 0 else 0.0
    top = min(cfg.hf_band_hz[1], 0.45 * fs)
    hf_tot = power(0.5, top)
    hfsqi = power(cfg.hf_band_hz[0], top) / hf_tot if hf_tot > 0 and top > cfg.hf_band_hz[0] else 0.0
    return float(psqi), float(bassqi), float(hfsqi)


def qrs_snr_db(x: np.ndarray, peaks: np.ndarray, fs: float, cfg: SqiConfig = SqiConfig()) -> float:
    """Median |5-15 Hz signal| at the QRS complexes over its RMS >= ``qrs_exclusion_s`` away from them (dB)."""
    p = np.asarray(peaks, np.int64)
    if p.size == 0 or x.size < 32:
        return 0.0
    b = bandpass(np.asarray(x, np.float64), fs, cfg.qrs_band_hz[0], min(cfg.qrs_band_hz[1], 0.45 * fs), order=2)
    r = max(1, int(round(0.05 * fs)))
    idx = np.clip(p[:, None] + np.arange(-r, r + 1)[None, :], 0, b.size - 1)
    amp = float(np.median(np.abs(b[idx]).max(axis=1)))
    keep = np.ones(b.size, bool)
    e = max(1, int(round(cfg.qrs_exclusion_s * fs)))
    lo, hi = np.clip(p - e, 0, b.size), np.clip(p + e + 1, 0, b.size)
    cover = np.zeros(b.size + 1, np.int64)
    np.add.at(cover, lo, 1)
    np.add.at(cover, hi, -1)
    keep &= np.cumsum(cover[:-1]) == 0
    rest = b[keep]
    rms = float(np.sqrt(np.mean(rest ** 2))) if rest.size >= 8 else 0.0
    if amp <= 0:
        return 0.0
    return float(20.0 * np.log10(amp / max(rms, amp * 1e-3)))


def flat_and_clipping(x: np.ndarray, fs: float, cfg: SqiConfig = SqiConfig()) -> tuple[float, float]:
    """(longest constant run in s, fraction of samples at a rail in runs of >= ``clip_run_s``)."""
    from .quality import _longest_run, _run_mask  # shared run-length helpers

    x2 = np.asarray(x, np.float64)[:, None]
    run = _longest_run(np.r_[np.zeros((1, 1), bool), np.diff(x2, axis=0) == 0]) + 1
    full = float(x2.max() - x2.min())
    if full <= 0:
        return float(x2.shape[0] / fs), 0.0
    tol = cfg.clip_tol * full
    rl = max(2, int(round(cfg.clip_run_s * fs)))
    at_max = _run_mask(x2 >= x2.max() - tol, rl).mean()
    at_min = _run_mask(x2 <= x2.min() + tol, rl).mean()
    return float(run[0] / fs), float(max(at_max, at_min))


def sqi_matrix(rows: Sequence[dict[str, float]]) -> np.ndarray:
    """(m, len(SQI_NAMES)) float64 array of ``m`` :func:`window_sqi` results (columns in SQI_NAMES order)."""
    return np.array([[r[k] for k in SQI_NAMES] for r in rows], np.float64).reshape(len(rows), len(SQI_NAMES))


def window_sqi(x: np.ndarray, fs: float, cfg: SqiConfig = SqiConfig(),
               rpeaks: np.ndarray | None = None) -> dict[str, float]:
    """Every index of :data:`SQI_NAMES` for one lead ``x`` (mV, (n,)) at ``fs`` Hz.

    ``rpeaks``: Pan-Tompkins detections (sample indices) when already known; else detected here.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 1:
        raise ValueError(f"window_sqi expects one lead (n,), got shape {x.shape}")
    if x.size == 0 or not np.all(np.isfinite(x)):
        return {**{k: 0.0 for k in SQI_NAMES}, "flat_s": float(x.size / fs)}
    flat_s, clipped = flat_and_clipping(x, fs, cfg)
    amp = float(np.percentile(np.abs(x - np.median(x)), 99.5))
    if amp <= 0:
        return {**{k: 0.0 for k in SQI_NAMES}, "flat_s": flat_s, "clipped_fraction": clipped}
    pt = pan_tompkins(x, fs) if rpeaks is None else np.asarray(rpeaks, np.int64)
    en = energy_rpeaks(x, fs, cfg.detector)
    k, s = moments(x)
    psqi, bassqi, hfsqi = spectrum_sqis(x, fs, cfg)
    return {
        "bsqi": bsqi(pt, en, fs, cfg.match_tol_s),
        "tsqi": tsqi(x, pt, fs, *cfg.template_s, cfg.min_template_beats),
        "ksqi": k, "ssqi": s, "psqi": psqi, "bassqi": bassqi, "hfsqi": hfsqi,
        "qrs_snr_db": qrs_snr_db(x, pt, fs, cfg),
        "beats_per_min": float(60.0 * pt.size * fs / x.size),
        "amplitude_mv": amp, "flat_s": flat_s, "clipped_fraction": clipped,
    }
