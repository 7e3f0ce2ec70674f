"""Physiological zones of a window, from its R peaks (pure numpy).

Definitions (times relative to each R peak, seconds; edges inclusive, rounded to samples the way
:func:`ecgnet_tf.preprocess.prior_map` rounds them):

* ``qrs``: R - 0.050 .. R + 0.050 (the QRS part of the training prior).
* ``st_t``: the task's ST-T prior zone, i.e. the second zone of ``PRIOR_ZONES_S`` for the "mi" and
  "beat" priors: J + 0.060 .. J + 0.120 with J = R + 0.040, i.e. R + 0.100 .. R + 0.160. For the
  "af" prior (CinC 2017) it is the AF prior zone R + 0.100 .. R + 0.300, the only zone that task's
  prior defines.
* ``pr``: R - 0.200 .. R - 0.050 (P wave to QRS onset for a typical PR interval; not part of any
  prior, defined here).
* ``baseline``: every other sample.

Zones of all R peaks of a window are used (neighbouring beats too) and are mutually exclusive by a
fixed precedence: ``qrs`` > ``st_t`` > ``pr`` > ``baseline`` (a sample inside two zones, e.g. the PR
zone of a beat overlapping the ST-T zone of the previous one at a high rate, gets the first).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..preprocess import PRIOR_ZONES_S

ZONES: tuple[str, ...] = ("qrs", "st_t", "pr", "baseline")
"""Zone names in precedence order; :func:`zone_labels` returns indices into this tuple."""


@dataclass(frozen=True)
class ZoneConfig:
    """Zone bounds in seconds relative to the R peak (inclusive)."""

    qrs_s: tuple[float, float] = PRIOR_ZONES_S["mi"][0]
    st_t_s: tuple[float, float] = PRIOR_ZONES_S["mi"][1]
    pr_s: tuple[float, float] = (-0.200, -0.050)

    @classmethod
    def for_prior_kind(cls, kind: str) -> "ZoneConfig":
        """Zones for a task's prior kind ("mi", "beat", "af", "none")."""
        if kind == "af":
            return cls(st_t_s=PRIOR_ZONES_S["af"][0])
        if kind in ("mi", "beat", "none"):
            return cls()
        raise ValueError(f"unknown prior kind {kind!r}")

    def bounds(self) -> dict[str, tuple[float, float]]:
        """Zone name -> (start, end) in s relative to R, for the zones other than baseline."""
        return {"qrs": self.qrs_s, "st_t": self.st_t_s, "pr": self.pr_s}

    def describe(self) -> dict[str, str]:
        """Human-readable definitions (ms) for reports."""
        ms = {k: (round(a * 1000), round(b * 1000)) for k, (a, b) in self.bounds().items()}
        out = {k: f"R{a:+d} ms .. R{b:+d} ms (inclusive), every R peak of the window" for k, (a, b) in ms.items()}
        out["baseline"] = "every sample outside qrs, st_t and pr"
        out["precedence"] = "qrs > st_t > pr > baseline (zones are mutually exclusive)"
        return out


def zone_mask(rpeaks: np.ndarray, n_samples: int, fs: float, bounds_s: tuple[float, float]) -> np.ndarray:
    """Boolean (n_samples,) mask of the union of ``[R + a, R + b]`` over the R peaks (sample indices)."""
    r = np.asarray(rpeaks, dtype=np.int64).ravel()
    diff = np.zeros(int(n_samples) + 1, dtype=np.int64)
    a = np.clip(r + int(round(bounds_s[0] * fs)), 0, n_samples)
    b = np.clip(r + int(round(bounds_s[1] * fs)) + 1, 0, n_samples)
    ok = b > a
    np.add.at(diff, a[ok], 1)
    np.add.at(diff, b[ok], -1)
    return np.cumsum(diff[:n_samples]) > 0


def zone_labels(rpeaks: np.ndarray, n_samples: int, fs: float, cfg: ZoneConfig = ZoneConfig()) -> np.ndarray:
    """Zone index (into :data:`ZONES`) of every sample: int8 (n_samples,), precedence applied."""
    labels = np.full(int(n_samples), ZONES.index("baseline"), dtype=np.int8)
    bounds = cfg.bounds()
    for name in reversed(ZONES[:-1]):  # lowest precedence first, higher ones overwrite
        labels[zone_mask(rpeaks, n_samples, fs, bounds[name])] = ZONES.index(name)
    return labels


def zone_shares(weights: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    """Share of the non-negative ``weights`` (T,) falling in each zone, float64 (len(ZONES),).

    Shares sum to 1. Returns None when the weights sum to zero (no attribution to share).
    """
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if w.shape != np.shape(labels):
        raise ValueError(f"weights {w.shape} and labels {np.shape(labels)} differ in shape")
    total = w.sum()
    if not np.isfinite(total) or total <= 0:
        return None
    return np.bincount(np.asarray(labels, dtype=np.int64), weights=w, minlength=len(ZONES)) / total


def offset_to_nearest_r(rpeaks: np.ndarray, n_samples: int, fs: float) -> np.ndarray:
    """Signed time (s) from every sample to its nearest R peak (positive after R); NaN without R peaks."""
    r = np.sort(np.asarray(rpeaks, dtype=np.float64).ravel())
    t = np.arange(int(n_samples), dtype=np.float64)
    if r.size == 0:
        return np.full(t.shape, np.nan)
    i = np.clip(np.searchsorted(r, t), 1, max(r.size - 1, 1)) if r.size > 1 else np.zeros(t.shape, int)
    if r.size > 1:
        left, right = r[i - 1], r[i]
        nearest = np.where(np.abs(t - left) <= np.abs(right - t), left, right)
    else:
        nearest = np.full(t.shape, r[0])
    return (t - nearest) / fs
