"""Rhythm features of one segment window: how regular the RR sequence of its R peaks is.

Atrial fibrillation is an "irregularly irregular" rhythm: successive RR intervals differ a lot and in
no pattern. :func:`rhythm_features` summarises the R peaks of one window (a 10-s CinC 2017 segment)
in a fixed-length vector the segment classifier takes as its ``"rr"`` input next to the waveform.
All times are seconds; R-peak positions are sample indices at ``fs`` Hz.

Definitions, for the ``n`` R peaks ``b[0] <= ... <= b[n-1]`` of the window and its intervals
``r[k] = (b[k+1] - b[k]) / fs`` (``k = 0 .. n-2``):

* An interval is *plausible* when ``min_rr_s <= r <= max_rr_s`` (missed or double detections,
  dropouts are not); only plausible intervals enter the statistics.
* *Successive differences* ``d = r[k+1] - r[k]`` are taken between neighbouring intervals that are
  both plausible (an implausible interval breaks the sequence); *turning points* need three
  neighbouring plausible intervals.

Robustness: every feature is finite and non-negative for any number of R peaks. A statistic that
needs more intervals than the window has is 0 (no intervals: mean RR 0; fewer than two: spreads 0;
no successive difference: difference features 0; no triple: turning-point ratio 0), so a window
with 0, 1 or 2 beats still gets a defined row, and ``n_beats`` / ``implausible_fraction`` tell the
model how much the row rests on.

Causality: the features of a window depend on the R peaks inside that window only, so the
streaming monitor, which cuts the same windows, computes the same rows as training.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .rr import integer_positions

#: Entries of :func:`rhythm_features`, with their units.
RHYTHM_FEATURE_NAMES: tuple[str, ...] = (
    "n_beats",               # R peaks in the window (count)
    "mean_rr_s",             # mean plausible RR interval (s)
    "sdnn_s",                # standard deviation of the plausible intervals (s)
    "rmssd_s",               # root mean square of the successive differences (s)
    "cv_rr",                 # sdnn / mean RR (dimensionless)
    "nrmssd",                # rmssd / mean RR (dimensionless)
    "median_abs_sd_ratio",   # median |successive difference| / median RR (dimensionless, robust)
    "pnn_abs",               # fraction of |successive differences| > pnn_abs_s (0..1; pNN50 by default)
    "pnn_rel",               # fraction of |successive differences| / mean RR > pnn_rel (0..1)
    "range_ratio",           # (max - min) plausible interval / mean RR (dimensionless)
    "sd_entropy",            # Shannon entropy of |successive differences| / mean RR, normalised to 0..1
    "turning_point_ratio",   # turning points / the 2(m-2)/3 expected of a random sequence (1 ~ random)
    "implausible_fraction",  # intervals outside [min_rr_s, max_rr_s] / all intervals (0..1)
)
_F = len(RHYTHM_FEATURE_NAMES)


@dataclass(frozen=True)
class RhythmConfig:
    """Rhythm-feature settings (times in seconds).

    min_rr_s, max_rr_s: plausible interval range (0.15 s = 400 bpm, 3.0 s = 20 bpm).
    pnn_abs_s: threshold of ``pnn_abs`` (50 ms: the classic pNN50).
    pnn_rel: threshold of ``pnn_rel``, a fraction of the mean RR.
    entropy_bin: width of one histogram bin of ``|d| / mean RR`` for ``sd_entropy``.
    entropy_bins: number of bins (the last one also holds everything above it).
    """

    min_rr_s: float = 0.15
    max_rr_s: float = 3.0
    pnn_abs_s: float = 0.05
    pnn_rel: float = 0.1
    entropy_bin: float = 0.03
    entropy_bins: int = 16

    def __post_init__(self) -> None:
        if not 0.0 < self.min_rr_s < self.max_rr_s:
            raise ValueError(f"need 0 < min_rr_s < max_rr_s, got {self.min_rr_s}, {self.max_rr_s}")
        if not self.pnn_abs_s > 0 or not self.pnn_rel > 0 or not self.entropy_bin > 0:
            raise ValueError("pnn_abs_s, pnn_rel and entropy_bin must be positive")
        if int(self.entropy_bins) != self.entropy_bins or self.entropy_bins < 2:
            raise ValueError(f"entropy_bins must be an integer >= 2, got {self.entropy_bins!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RhythmConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown RhythmConfig keys: {sorted(unknown)}")
        return cls(**d)


def _beats(rpeaks: np.ndarray) -> np.ndarray:
    b = integer_positions(rpeaks, "rpeaks")
    if np.any(np.diff(b) < 0):
        raise ValueError("R-peak positions must be non-decreasing")
    return b


def _entropy(x: np.ndarray, cfg: RhythmConfig) -> float:
    """Shannon entropy (bits) of ``x`` >= 0 in fixed bins, divided by log2(entropy_bins): 0..1."""
    if x.size < 2:
        return 0.0
    idx = np.minimum((x / cfg.entropy_bin).astype(np.int64), int(cfg.entropy_bins) - 1)
    p = np.bincount(idx, minlength=int(cfg.entropy_bins)) / x.size
    p = p[p > 0]
    return max(0.0, float(-(p * np.log2(p)).sum() / np.log2(int(cfg.entropy_bins))))  # never -0.0


def rhythm_features(rpeaks: np.ndarray, fs: float, config: RhythmConfig = RhythmConfig()) -> np.ndarray:
    """Rhythm features of the R peaks of one window (definitions in the module docstring).

    Args:
        rpeaks: (n,) R-peak positions in samples at ``fs`` (window-relative or absolute: only their
            differences matter), non-decreasing; only the window's own peaks.
        fs: sampling rate in Hz.
        config: plausible range and thresholds.

    Returns:
        (F,) float32, entries :data:`RHYTHM_FEATURE_NAMES` (counts, seconds, fractions and ratios),
        all finite and >= 0.
    """
    if not fs > 0:
        raise ValueError(f"fs must be positive, got {fs}")
    cfg = config
    b = _beats(rpeaks)
    f = dict.fromkeys(RHYTHM_FEATURE_NAMES, 0.0)
    f["n_beats"] = float(b.size)
    r = np.diff(b).astype(np.float64) / fs
    ok = (r >= cfg.min_rr_s) & (r <= cfg.max_rr_s)
    rp = r[ok]
    if r.size:
        f["implausible_fraction"] = 1.0 - ok.mean()
    if rp.size:
        mean = rp.mean()
        f["mean_rr_s"] = mean
        if rp.size >= 2:
            f["sdnn_s"] = rp.std()
            f["cv_rr"] = f["sdnn_s"] / mean
            f["range_ratio"] = (rp.max() - rp.min()) / mean
        d = np.abs(np.diff(r)[ok[1:] & ok[:-1]])
        if d.size:
            f["rmssd_s"] = np.sqrt(np.mean(d ** 2))
            f["nrmssd"] = f["rmssd_s"] / mean
            f["median_abs_sd_ratio"] = np.median(d) / np.median(rp)
            f["pnn_abs"] = np.mean(d > cfg.pnn_abs_s)
            f["pnn_rel"] = np.mean(d / mean > cfg.pnn_rel)
            f["sd_entropy"] = _entropy(d / mean, cfg)
        triple = ok[2:] & ok[1:-1] & ok[:-2]
        if triple.any():
            mid, left, right = r[1:-1][triple], r[:-2][triple], r[2:][triple]
            turns = ((mid > left) & (mid > right)) | ((mid < left) & (mid < right))
            f["turning_point_ratio"] = turns.sum() / (2.0 * triple.sum() / 3.0)
    return np.array([f[k] for k in RHYTHM_FEATURE_NAMES], dtype=np.float64).astype(np.float32)


def rhythm_rows(rpeaks: list[np.ndarray], fs: float, config: RhythmConfig = RhythmConfig()) -> np.ndarray:
    """(n, F) float32: :func:`rhythm_features` of each of ``n`` windows' own R peaks."""
    if not rpeaks:
        return np.zeros((0, _F), np.float32)
    return np.stack([rhythm_features(r, fs, config) for r in rpeaks])
