"""Whole-record features of one ECG lead: rhythm over all beats, the median beat's shape, atrial activity
and signal quality.

A 10-s window sees about ten beats; a CinC 2017 record (9-61 s) sees up to a hundred, and several of the
rhythms the challenge calls "other" (bigeminy, occasional ectopics, bundle branch block, tachycardia) show
only over the whole record or in the shape of the beats. :func:`record_features` summarises one
preprocessed lead and its R peaks in a fixed-length vector that the record-level decision
(:mod:`ecgnet_tf.training.record_model`) combines with the network's window outputs.

Units: ``x`` in mV after the project's preprocessing (baseline removed, band-passed), ``fs`` in Hz,
R peaks in samples at ``fs``; features in seconds, mV, bpm or dimensionless as
:data:`RECORD_FEATURE_NAMES` says. Every entry is finite for any input (a statistic that needs more beats
than the record has is 0), so short, flat or noisy records still get a row.

Definitions (the references are the usual ones of the AF / signal-quality literature):

* ``rr_*``: :func:`~ecgnet_tf.preprocess.rhythm.rhythm_features` over all R peaks of the record.
* ``sample_entropy``: SampEn(m=1, r=``sampen_r_s``) of the plausible RR sequence (Richman & Moorman
  2000; low for regular rhythms, high for AF); 0 with fewer than 4 intervals, capped at ``log(n)``.
* ``premature_fraction``: beats whose RR is below ``premature_ratio`` x the record's median RR and
  followed by a longer-than-median RR (an ectopic beat with its compensatory pause).
* ``hr_range_bpm``: range of the heart rate of the running median of 5 RR intervals.
* Template features use beats with a full ``[-template_pre_s, +template_post_s]`` window around R and
  their sample-wise median (the template): ``template_corr`` (mean Pearson correlation of beats with
  it, 0..1, the template SQI), ``template_outliers`` (fraction of beats with correlation < 0.8),
  ``r_amplitude_mv`` (signed template value at R), ``qrs_width_s`` (span around R where the template's
  slope exceeds 15% of its largest slope), ``p_ratio`` (RMS of the P zone -0.25..-0.08 s over the QRS
  zone -0.05..+0.05 s), ``p_consistency`` (mean correlation of each beat's P zone with the template's,
  0..1: P waves are absent or inconsistent in AF), ``t_ratio`` (largest |template| in +0.15..+0.45 s
  over |R|).
* ``af_band_ratio``: after subtracting the template at every beat (QRST cancellation), the share of
  the residual's 1-40 Hz power that lies in 4-9 Hz (fibrillatory waves).
* RR structure (what tells atrial fibrillation's randomness from ectopy on a regular rhythm):
  ``cosen``, the coefficient of sample entropy (Lake & Moorman 2011: SampEn + ln(2r) - ln(mean RR),
  RR in s; 0 when SampEn is 0); ``rr_autocorr_lag1`` / ``_lag2`` (near 0 in AF, lag 1 strongly
  negative and lag 2 positive in bigeminy); ``near_median_fraction`` (share of intervals within
  ``near_median_ratio`` of the median RR: high for a regular rhythm with occasional ectopics, low in
  AF); ``rr_hist_entropy`` (entropy of the histogram of RR / median RR in bins of
  ``hist_bin_ratio`` over 0.2..2.5); ``sd1_sd2_ratio`` (Poincare plot widths across / along the
  identity line). All need at least 4 plausible intervals, else 0.
* Quality: ``kurtosis`` and ``skewness`` of ``x``, ``hf_share`` (power above 40 Hz over all power),
  ``amplitude_mv`` (99th minus 1st percentile), ``beats_per_s`` and ``duration_s``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from .rhythm import RHYTHM_FEATURE_NAMES, RhythmConfig, rhythm_features
from .rr import integer_positions

_EXTRA = (
    "sample_entropy",      # SampEn(m=1) of the RR sequence (nats)
    "premature_fraction",  # premature beats with a compensatory pause / beats (0..1)
    "hr_range_bpm",        # range of the 5-beat running-median heart rate (bpm)
    "median_hr_bpm",       # 60 / median plausible RR (bpm)
    "template_corr",       # mean correlation of beats with the median beat (0..1)
    "template_outliers",   # fraction of beats correlating < 0.8 with it (0..1)
    "r_amplitude_mv",      # signed template value at R (mV)
    "qrs_width_s",         # QRS span of the template (s)
    "p_ratio",             # RMS P zone / RMS QRS zone of the template
    "p_consistency",       # mean correlation of beats' P zones with the template's (0..1)
    "t_ratio",             # largest |template| in the T zone / |R|
    "af_band_ratio",       # 4-9 Hz share of the 1-40 Hz power after QRST cancellation (0..1)
    "kurtosis",            # excess kurtosis of x (capped at 100)
    "skewness",            # skewness of x (capped at +-20)
    "hf_share",            # power above 40 Hz / all power (0..1)
    "amplitude_mv",        # 99th - 1st percentile of x (mV)
    "beats_per_s",         # R peaks per second
    "duration_s",          # record length (s)
    "cosen",               # coefficient of sample entropy: SampEn + ln(2 r) - ln(mean RR) (nats)
    "rr_autocorr_lag1",    # autocorrelation of the RR sequence at lag 1 (-1..1)
    "rr_autocorr_lag2",    # autocorrelation of the RR sequence at lag 2 (-1..1)
    "near_median_fraction",  # intervals within +-near_median_ratio of the median RR (0..1)
    "rr_hist_entropy",     # Shannon entropy of the histogram of RR / median RR (nats)
    "sd1_sd2_ratio",       # Poincare plot SD1 / SD2 (dimensionless)
)
#: Entries of :func:`record_features` (``rr_`` + the rhythm features, then the extras above).
RECORD_FEATURE_NAMES: tuple[str, ...] = tuple("rr_" + n for n in RHYTHM_FEATURE_NAMES) + _EXTRA


@dataclass(frozen=True)
class RecordFeatureConfig:
    """Settings of :func:`record_features` (seconds, ratios)."""

    rhythm: RhythmConfig = RhythmConfig()
    sampen_r_s: float = 0.03
    premature_ratio: float = 0.85
    template_pre_s: float = 0.25
    template_post_s: float = 0.45
    near_median_ratio: float = 0.08
    hist_bin_ratio: float = 0.05

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _corr_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` (n, T) with ``b`` (T,); 0 for flat rows."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean()
    den = np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(den > 0, (a @ b) / np.where(den > 0, den, 1.0), 0.0)
    return np.clip(c, -1.0, 1.0)


def sample_entropy(v: np.ndarray, r: float, m: int = 1) -> float:
    """SampEn(m, r) of sequence ``v`` (Chebyshev distance, self-matches excluded), in nats.

    0 when the sequence has fewer than m + 3 values; when no (m+1)-match exists the value is capped
    at ``log(n_pairs)`` (the largest finite estimate), so the result is always finite and >= 0.
    """
    v = np.asarray(v, np.float64)
    n = v.size
    if n < m + 3:
        return 0.0
    emb_m = np.lib.stride_tricks.sliding_window_view(v, m)[: n - m]
    emb_m1 = np.lib.stride_tricks.sliding_window_view(v, m + 1)
    iu = np.triu_indices(len(emb_m), k=1)
    d_m = np.abs(emb_m[:, None, :] - emb_m[None, :, :]).max(axis=2)[iu]
    d_m1 = np.abs(emb_m1[:, None, :] - emb_m1[None, :, :]).max(axis=2)[np.triu_indices(len(emb_m1), k=1)]
    b, a = int(np.sum(d_m <= r)), int(np.sum(d_m1 <= r))
    cap = float(np.log(max(len(iu[0]), 1)))
    if b == 0 or a == 0:
        return cap if b > 0 else 0.0
    return float(min(-np.log(a / b), cap))


def _templates(x: np.ndarray, b: np.ndarray, fs: float, cfg: RecordFeatureConfig) -> tuple[np.ndarray, int]:
    pre, post = int(round(cfg.template_pre_s * fs)), int(round(cfg.template_post_s * fs))
    keep = b[(b - pre >= 0) & (b + post < x.size)]
    if keep.size == 0:
        return np.zeros((0, pre + post + 1)), pre
    idx = keep[:, None] + np.arange(-pre, post + 1)[None, :]
    return x[idx], pre


def _zone(pre: int, fs: float, a_s: float, b_s: float, length: int) -> slice:
    return slice(max(0, pre + int(round(a_s * fs))), min(length, pre + int(round(b_s * fs)) + 1))


def _rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(v ** 2))) if v.size else 0.0


def _autocorr(v: np.ndarray, lag: int) -> float:
    v = v - v.mean()
    den = float(v @ v)
    if v.size <= lag + 1 or den <= 0:
        return 0.0
    return float(np.clip((v[:-lag] @ v[lag:]) / den, -1.0, 1.0))


#: the RR-structure entries of :data:`RECORD_FEATURE_NAMES` (:func:`rr_structure`)
RR_STRUCTURE_NAMES: tuple[str, ...] = ("cosen", "rr_autocorr_lag1", "rr_autocorr_lag2", "near_median_fraction",
                                       "rr_hist_entropy", "sd1_sd2_ratio")


def rr_structure(rp: np.ndarray, config: RecordFeatureConfig = RecordFeatureConfig(),
                 sampen: float | None = None) -> dict[str, float]:
    """The RR-structure entries of :func:`record_features` (module docstring) of plausible intervals
    ``rp`` (s, in order); every value 0 with fewer than 4 intervals. ``sampen``: SampEn of ``rp`` if
    already computed."""
    out = dict.fromkeys(RR_STRUCTURE_NAMES, 0.0)
    rp = np.asarray(rp, np.float64)
    if rp.size < 4:
        return out
    se = sample_entropy(rp, config.sampen_r_s) if sampen is None else sampen
    if se > 0:
        out["cosen"] = float(se + np.log(2 * config.sampen_r_s) - np.log(rp.mean()))
    out["rr_autocorr_lag1"] = _autocorr(rp, 1)
    out["rr_autocorr_lag2"] = _autocorr(rp, 2)
    rel = rp / np.median(rp)
    out["near_median_fraction"] = float(np.mean(np.abs(rel - 1.0) <= config.near_median_ratio))
    counts, _ = np.histogram(np.clip(rel, 0.2, 2.5), bins=np.arange(0.2, 2.5 + 1e-9, config.hist_bin_ratio))
    p = counts[counts > 0] / counts.sum()
    out["rr_hist_entropy"] = float(-(p * np.log(p)).sum())
    a, c = rp[:-1], rp[1:]
    sd1, sd2 = np.std((c - a) / np.sqrt(2)), np.std((c + a) / np.sqrt(2))
    out["sd1_sd2_ratio"] = float(sd1 / sd2) if sd2 > 0 else 0.0
    return out


def record_features(x: np.ndarray, rpeaks: np.ndarray, fs: float,
                    config: RecordFeatureConfig = RecordFeatureConfig()) -> np.ndarray:
    """Whole-record features of one preprocessed lead (definitions in the module docstring).

    Args:
        x: (n,) preprocessed ECG in mV (or (n, 1)).
        rpeaks: R-peak positions in samples at ``fs``, non-decreasing, inside ``x``.
        fs: sampling rate in Hz.
        config: thresholds and template zones.

    Returns:
        (F,) float32 in the order of :data:`RECORD_FEATURE_NAMES`, all finite.
    """
    if not fs > 0:
        raise ValueError(f"fs must be positive, got {fs}")
    x = np.asarray(x, np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"x must be one lead (n,) or (n, 1), got shape {x.shape}")
    x = np.where(np.isfinite(x), x, 0.0)
    b = integer_positions(rpeaks, "rpeaks")
    if b.size and (b.min() < 0 or b.max() >= x.size):
        raise ValueError(f"R peaks must lie inside the signal (0..{x.size - 1}), got {b.min()}..{b.max()}")
    cfg = config
    f = dict.fromkeys(_EXTRA, 0.0)
    rr_part = rhythm_features(b, fs, cfg.rhythm).astype(np.float64)

    r = np.diff(b) / fs
    rp = r[(r >= cfg.rhythm.min_rr_s) & (r <= cfg.rhythm.max_rr_s)]
    f["sample_entropy"] = sample_entropy(rp, cfg.sampen_r_s)
    if rp.size:
        med = float(np.median(rp))
        f["median_hr_bpm"] = 60.0 / med
        if r.size >= 2:
            early = (r[:-1] < cfg.premature_ratio * med) & (r[1:] > med)
            f["premature_fraction"] = float(early.sum() / max(b.size, 1))
        if rp.size >= 5:
            run = np.median(np.lib.stride_tricks.sliding_window_view(rp, 5), axis=1)
            f["hr_range_bpm"] = float(60.0 / run.min() - 60.0 / run.max())

    f.update(rr_structure(rp, cfg, f["sample_entropy"]))

    beats, pre = _templates(x, b, fs, cfg)
    if len(beats) >= 2:
        tmpl = np.median(beats, axis=0)
        corr = _corr_rows(beats, tmpl)
        f["template_corr"] = float(np.clip(corr.mean(), 0.0, 1.0))
        f["template_outliers"] = float(np.mean(corr < 0.8))
        r_amp = float(tmpl[pre])
        f["r_amplitude_mv"] = r_amp
        slope = np.abs(np.diff(tmpl))
        if slope.max() > 0:
            qz = _zone(pre, fs, -0.12, 0.12, slope.size)
            big = np.flatnonzero(slope[qz] > 0.15 * slope.max())
            if big.size:
                f["qrs_width_s"] = float((big[-1] - big[0] + 1) / fs)
        pz, qrs = _zone(pre, fs, -0.25, -0.08, tmpl.size), _zone(pre, fs, -0.05, 0.05, tmpl.size)
        q_rms = _rms(tmpl[qrs])
        if q_rms > 0:
            f["p_ratio"] = _rms(tmpl[pz]) / q_rms
        f["p_consistency"] = float(np.clip(_corr_rows(beats[:, pz], tmpl[pz]).mean(), 0.0, 1.0))
        tz = _zone(pre, fs, 0.15, 0.45, tmpl.size)
        if abs(r_amp) > 0:
            f["t_ratio"] = float(np.abs(tmpl[tz]).max() / abs(r_amp))
        resid = x.copy()
        pre_n = pre
        for pos in b[(b - pre_n >= 0) & (b + tmpl.size - pre_n <= x.size)]:
            resid[pos - pre_n: pos - pre_n + tmpl.size] -= tmpl
        nper = int(min(resid.size, round(4 * fs)))
        if nper >= 16:
            freqs, psd = sps.welch(resid, fs=fs, nperseg=nper)
            total = psd[(freqs >= 1) & (freqs <= 40)].sum()
            if total > 0:
                f["af_band_ratio"] = float(psd[(freqs >= 4) & (freqs <= 9)].sum() / total)

    sd = x.std() if x.size else 0.0
    if sd > 0:
        z = (x - x.mean()) / sd
        f["kurtosis"] = float(np.clip(np.mean(z ** 4) - 3.0, -3.0, 100.0))
        f["skewness"] = float(np.clip(np.mean(z ** 3), -20.0, 20.0))
        spec = np.abs(np.fft.rfft(x - x.mean())) ** 2
        freqs = np.fft.rfftfreq(x.size, 1.0 / fs)
        f["hf_share"] = float(spec[freqs > 40].sum() / spec.sum()) if spec.sum() > 0 else 0.0
    if x.size:
        lo, hi = np.percentile(x, [1, 99])
        f["amplitude_mv"] = float(hi - lo)
    dur = x.size / fs
    f["duration_s"] = float(dur)
    f["beats_per_s"] = float(b.size / dur) if dur > 0 else 0.0
    out = np.concatenate([rr_part, [f[k] for k in _EXTRA]])
    return np.where(np.isfinite(out), out, 0.0).astype(np.float32)
