"""Beat-template features: how a beat's shape differs from the patient's own recent beats.

A ventricular beat is recognisable as "shaped unlike this patient's usual beat", whatever that usual
beat looks like; a network that only sees z-scored waveforms must instead learn every training
patient's normal shape, and fails on new patients. So each beat is compared with a **template**: the
sample-wise median of the previous ``history_beats`` beats of the same record (lead 0), each cut
``pre_s`` before to ``post_s`` after its R peak. The median follows the dominant morphology, so a few
ectopic beats do not move it.

**Causality.** Beat i's template is made of beats ``i-K .. i-1`` only (the beat being judged never
enters its own reference); its features use its own segment, which ends ``post_s`` after its R peak
(inside its model window). :class:`TemplateTracker` computes them beat by beat, and
:func:`template_features` is that tracker run over a record, so a streaming monitor and a
whole-record pipeline give identical numbers. Warm-up: the first beat has no history and is compared
with itself (correlations 1, deviations 0); with fewer than ``history_beats`` previous beats the
template is the median of those available.

Features (:data:`TEMPLATE_FEATURE_NAMES`; every value finite and clipped into ``[-clip, clip]``). Each
segment first has its own baseline removed (median of its first ``baseline_s``). ``A`` is the
template's peak-to-peak amplitude in the QRS zone (``|t| <= qrs_s`` around the R peak) in mV,
floored at ``min_amplitude_mv``:

* ``corr_qrs``, ``corr_wide``: Pearson correlation with the template over the QRS zone and over the
  whole segment (-1 .. 1; 1 for a flat pair).
* ``rms_dev``: RMS of (beat - template) over the segment, in units of ``A``.
* ``amp_ratio``: the beat's QRS peak-to-peak amplitude over ``A``.
* ``width_ratio``: samples of the QRS zone where the beat's absolute slope exceeds 30 % of its
  maximum, over the same count for the template (a wide QRS gives > 1).
* ``max_dev_qrs``: largest absolute deviation in the QRS zone, in units of ``A``.
* ``mean_dev_qrs``, ``mean_dev_st``: mean signed deviation over the QRS zone and over the part of the
  segment after it (ST-T), in units of ``A``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

#: Column names of :func:`template_features` (dimensionless).
TEMPLATE_FEATURE_NAMES: tuple[str, ...] = (
    "corr_qrs", "corr_wide", "rms_dev", "amp_ratio", "width_ratio", "max_dev_qrs", "mean_dev_qrs", "mean_dev_st",
)


@dataclass(frozen=True)
class TemplateConfig:
    """Beat-template settings (times in seconds).

    history_beats: previous beats whose sample-wise median is the template.
    pre_s, post_s: segment cut around each R peak (0.25 s before, 0.45 s after: P wave to T wave).
    qrs_s: half-width of the QRS zone around the R peak.
    baseline_s: leading part of the segment whose median is the segment's baseline.
    min_amplitude_mv: floor of the template QRS amplitude (mV), so a flat template gives no huge ratios.
    clip: every feature is clipped into [-clip, clip].
    """

    history_beats: int = 32
    pre_s: float = 0.25
    post_s: float = 0.45
    qrs_s: float = 0.10
    baseline_s: float = 0.08
    min_amplitude_mv: float = 0.05
    clip: float = 10.0

    def __post_init__(self) -> None:
        if int(self.history_beats) != self.history_beats or self.history_beats < 1:
            raise ValueError(f"history_beats must be a positive integer, got {self.history_beats!r}")
        if not (0 < self.qrs_s <= self.pre_s and self.qrs_s <= self.post_s):
            raise ValueError(f"need 0 < qrs_s <= pre_s, post_s; got {self.qrs_s}, {self.pre_s}, {self.post_s}")
        if not 0 < self.baseline_s < self.pre_s - self.qrs_s + 1e-12:
            raise ValueError(f"baseline_s must be in (0, pre_s - qrs_s], got {self.baseline_s}")
        if self.min_amplitude_mv <= 0 or self.clip <= 0:
            raise ValueError("min_amplitude_mv and clip must be positive")

    def to_dict(self) -> dict:
        return asdict(self)

    def zones(self, fs: float) -> tuple[int, int, slice, slice, int]:
        """(samples before R, samples after R, QRS slice, ST-T slice, baseline samples) at ``fs`` Hz."""
        pre, post = int(round(self.pre_s * fs)), int(round(self.post_s * fs))
        q = int(round(self.qrs_s * fs))
        return pre, post, slice(pre - q, pre + q + 1), slice(pre + q + 1, pre + post), max(1, int(round(self.baseline_s * fs)))


def centre_segments(windows: np.ndarray, fs: float, config: TemplateConfig = TemplateConfig()) -> np.ndarray:
    """(n, S) float64 segments of lead 0 cut from beat-centred windows ((n, T) or (n, T, C), R peak at
    ``T // 2``, samples at ``fs`` Hz), ``pre_s`` before to ``post_s`` after the R peak."""
    w = np.asarray(windows)
    if w.ndim == 3:
        w = w[:, :, 0]
    if w.ndim != 2:
        raise ValueError(f"windows must be (n, T) or (n, T, C), got shape {np.shape(windows)}")
    pre, post, *_ = config.zones(fs)
    c = w.shape[1] // 2
    if c - pre < 0 or c + post > w.shape[1]:
        raise ValueError(f"windows of {w.shape[1]} samples are too short for a {config.pre_s}+{config.post_s}-s "
                         f"segment at {fs} Hz")
    return w[:, c - pre:c + post].astype(np.float64)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b) / den if den > 1e-12 else 1.0


def _width(seg: np.ndarray) -> int:
    slope = np.abs(np.diff(seg))
    top = slope.max() if slope.size else 0.0
    return int(np.count_nonzero(slope > 0.3 * top)) if top > 0 else 1


def compare_to_template(seg: np.ndarray, template: np.ndarray, fs: float,
                        config: TemplateConfig = TemplateConfig()) -> np.ndarray:
    """(F,) float32 features of one baseline-removed segment against a template (module docstring)."""
    _, _, qrs, st, _ = config.zones(fs)
    amp = max(float(np.ptp(template[qrs])), config.min_amplitude_mv)
    d = (seg - template) / amp
    feats = np.array([
        _corr(seg[qrs], template[qrs]),
        _corr(seg, template),
        np.sqrt(np.mean(d * d)),
        np.ptp(seg[qrs]) / amp,
        _width(seg[qrs]) / max(_width(template[qrs]), 1),
        np.max(np.abs(d[qrs])),
        np.mean(d[qrs]),
        np.mean(d[st]),
    ])
    return np.clip(np.nan_to_num(feats, nan=0.0), -config.clip, config.clip).astype(np.float32)


class TemplateTracker:
    """Streaming beat-template features: push each beat's segment in order, get its features.

    Memory is ``history_beats`` segments. :func:`template_features` is this tracker over a record.
    """

    def __init__(self, fs: float, config: TemplateConfig = TemplateConfig()) -> None:
        if not fs > 0:
            raise ValueError(f"fs must be positive, got {fs}")
        self.fs = float(fs)
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget every beat (start of a new record or after a gap in the stream)."""
        self._history: deque[np.ndarray] = deque(maxlen=int(self.config.history_beats))
        self.n_pushed = 0

    def push(self, segment: np.ndarray) -> np.ndarray:
        """Features (F,) float32 of the beat whose segment (S,) this is (see :func:`centre_segments`),
        against the median of the previous beats; then the segment joins the history."""
        seg = np.asarray(segment, np.float64)
        *_, base = self.config.zones(self.fs)
        seg = seg - np.median(seg[:base])
        template = np.median(np.stack(self._history), axis=0) if self._history else seg
        out = compare_to_template(seg, template, self.fs, self.config)
        self._history.append(seg)
        self.n_pushed += 1
        return out

    def push_windows(self, windows: np.ndarray) -> np.ndarray:
        """(n, F) float32 features of beat-centred windows (as :func:`centre_segments` takes them), pushed
        in order after the beats already seen."""
        segs = centre_segments(windows, self.fs, self.config)
        if len(segs) == 0:
            return np.zeros((0, len(TEMPLATE_FEATURE_NAMES)), np.float32)
        return np.stack([self.push(s) for s in segs])


def template_features(windows: np.ndarray, fs: float, config: TemplateConfig = TemplateConfig()) -> np.ndarray:
    """(n, F) float32 template features of a record's beat-centred windows, in beat order (windows
    as :func:`centre_segments` takes them; ``fs`` in Hz). Beat i uses beats ``< i`` as its template."""
    return TemplateTracker(fs, config).push_windows(windows)
