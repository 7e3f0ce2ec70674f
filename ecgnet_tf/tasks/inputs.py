"""The one place where a preprocessed record (or a stream segment) becomes model inputs.

Training, evaluation, interpretation, the golden vectors for the phone and the streaming monitor
all call :func:`record_inputs` (or its two halves), so a new model input is added here once.

Inputs of one window: the ECG window (T, C) at the model rate (not yet z-scored: the run's
:class:`~ecgnet_tf.preprocess.ZScore` does that in :meth:`ecgnet_tf.runs.ModelSpec.prepare`), and the
prior map (T,) in 0..1 built from the R peaks inside the window, and the "rr" row: the centre beat's
RR-interval features (beat layouts) or the rhythm features of the window's R peaks (segment layouts).
Prior maps are rounded to float16 precision, the precision the window cache stores, so every path
feeds the model the same values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .. import preprocess as pp


class WindowLayout(Protocol):
    """How windows are cut: a :class:`~ecgnet_tf.tasks.TaskSpec` or a deployed model's spec."""

    window_s: float  # window length (s)
    segment_overlap: float  # fraction shared by consecutive segments (segment tasks)
    prior_kind: str  # ``preprocess.prior_map`` kind; "beat" = windows centred on beats


def is_beat_layout(layout: WindowLayout) -> bool:
    """True when windows are centred on beats (one decision per beat), else fixed segments."""
    return layout.prior_kind == "beat"


#: columns of a beat window's "rr" row: the RR-interval features, then the recent rhythm's irregularity.
#: A beat model's "rr" input takes the first ``rr_features`` of them (8: the RR features only, 10: all).
BEAT_RR_NAMES: tuple[str, ...] = pp.RR_FEATURE_NAMES + pp.RR_CONTEXT_NAMES


def rr_feature_names(layout: WindowLayout) -> tuple[str, ...]:
    """Names of the "rr" row's columns for ``layout``: for beat layouts :data:`BEAT_RR_NAMES` (the
    beat's RR-interval features, ``preprocess.RR_FEATURE_NAMES``, then ``preprocess.RR_CONTEXT_NAMES``),
    for segment layouts the window's rhythm features (``preprocess.RHYTHM_FEATURE_NAMES``)."""
    return BEAT_RR_NAMES if is_beat_layout(layout) else pp.RHYTHM_FEATURE_NAMES


def beat_rr_rows(beats: np.ndarray, fs: float) -> np.ndarray:
    """(n, 10) float32 "rr" rows (:data:`BEAT_RR_NAMES`) of every beat of a record (samples at ``fs`` Hz):
    :func:`ecgnet_tf.preprocess.rr_features`, then :func:`ecgnet_tf.preprocess.rr_context` of their
    pre-RR column (the irregularity of the beats before each one)."""
    beats = np.asarray(beats, dtype=np.int64)
    if not len(beats):
        return np.zeros((0, len(BEAT_RR_NAMES)), np.float32)
    rr = pp.rr_features(beats, fs)
    return np.concatenate([rr, pp.rr_context(rr[:, 0])], axis=1).astype(np.float32)


def window_samples(layout: WindowLayout, fs: float) -> int:
    """Window length in samples at the model rate ``fs`` (Hz)."""
    return int(round(layout.window_s * fs))


def round_prior(prior: np.ndarray) -> np.ndarray:
    """Prior values at the precision the window cache stores (float16), returned as float32."""
    return np.asarray(prior).astype(np.float16).astype(np.float32)


def prior_maps(rpeaks: list[np.ndarray], n_samples: int, fs: float, kind: str) -> np.ndarray:
    """(n, n_samples) float32 prior maps, one per window, from window-relative R peaks (samples)."""
    if not rpeaks:
        return np.zeros((0, n_samples), np.float32)
    return np.stack([round_prior(pp.prior_map(np.asarray(r, np.int64), n_samples, fs, kind)) for r in rpeaks])


@dataclass
class ModelInputs:
    """Model inputs cut from one preprocessed record or stream segment.

    x: (n, T, C) float32, preprocessed (mV), not z-scored. prior: (n, T) float32 in 0..1.
    rpeaks: n int64 arrays, R peaks relative to each window start (samples at the model rate).
    starts: (n,) int64 window start in the signal (samples at the model rate; may be negative for
    nothing, and 0 for a zero-padded short record). kept: (n,) indices of the beats the windows are
    centred on (beat layouts) or None. padded: zeros appended to a record shorter than one window.
    quality: one :class:`~ecgnet_tf.preprocess.QualityReport` per window (segment layouts), else None.
    rr: the model's "rr" input, (n, F) float32 (see :func:`rr_feature_names`): beat layouts, the
    RR-interval features and recent-rhythm context of the centre beat (:func:`beat_rr_rows` over all the
    record's beats: one beat of look-ahead); segment layouts, the rhythm features of the window's own
    R peaks (:func:`ecgnet_tf.preprocess.rhythm_features`, nothing outside the window). None when not made.
    morph: the model's "morph" input (beat layouts), (n, F) float32 beat-template features of each
    window's centre beat against the previous windows' beats (:func:`beat_morph`). None otherwise.
    """

    x: np.ndarray
    prior: np.ndarray
    rpeaks: list[np.ndarray]
    starts: np.ndarray
    kept: np.ndarray | None = None
    padded: int = 0
    quality: list | None = field(default=None, repr=False)
    rr: np.ndarray | None = None
    morph: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)

    @property
    def ok(self) -> np.ndarray:
        """(n,) bool: the window passed the quality gate (beat windows are not gated)."""
        if self.quality is None:
            return np.ones(len(self.x), bool)
        return np.array([q.ok for q in self.quality], dtype=bool)

    def take(self, idx) -> "ModelInputs":
        """The windows ``idx`` (indices into this set)."""
        idx = np.asarray(idx, dtype=np.int64)
        return ModelInputs(self.x[idx], self.prior[idx], [self.rpeaks[i] for i in idx], self.starts[idx],
                           None if self.kept is None else self.kept[idx], self.padded,
                           None if self.quality is None else [self.quality[i] for i in idx],
                           None if self.rr is None else self.rr[idx],
                           None if self.morph is None else self.morph[idx])

    def named(self) -> dict[str, np.ndarray]:
        """The named model inputs (not yet z-scored), as :meth:`ecgnet_tf.runs.ModelSpec.prepare` takes them."""
        return {"ecg": self.x, "prior": self.prior, **({} if self.rr is None else {"rr": self.rr}),
                **({} if self.morph is None else {"morph": self.morph})}


def beat_morph(windows: np.ndarray, fs: float) -> np.ndarray:
    """(n, F) float32 beat-template features ("morph" input) of one record's beat-centred windows
    ((n, T, C), in beat order, preprocessed mV at ``fs`` Hz): :func:`ecgnet_tf.preprocess.template_features`
    with the default :class:`~ecgnet_tf.preprocess.TemplateConfig`. The window cache stores the windows,
    not these rows, so training computes them from cached windows with this same function."""
    return pp.template_features(windows, fs)


def beat_inputs(layout: WindowLayout, x: np.ndarray, fs: float, beats: np.ndarray) -> ModelInputs:
    """Windows of ``layout.window_s`` centred on ``beats`` (samples at ``fs``) of the preprocessed ``x``.

    Beats whose window crosses the signal edges are dropped (``kept`` lists the others). Every
    window's R peaks are all ``beats`` inside it; its prior is centred on its own beat; its "rr" row
    (:func:`beat_rr_rows`) comes from all ``beats`` (intervals in s; the beat after it is its one beat
    of look-ahead); its template features (``morph``) from the previous kept windows (:func:`beat_morph`).
    """
    beats = np.asarray(beats, dtype=np.int64)
    w = window_samples(layout, fs)
    win, kept = pp.beat_windows(x, beats, fs, layout.window_s)
    starts = beats[kept] - w // 2
    rel = [beats[(beats >= s) & (beats < s + w)] - s for s in starts]
    prior = round_prior(pp.prior_map(np.array([w // 2]), w, fs, layout.prior_kind))
    rr = beat_rr_rows(beats, fs)[kept]
    return ModelInputs(win.astype(np.float32), np.broadcast_to(prior, (len(win), w)).copy(), rel,
                       starts.astype(np.int64), kept, rr=rr.astype(np.float32), morph=beat_morph(win, fs))


def segment_inputs(layout: WindowLayout, x: np.ndarray, fs: float, rpeaks: np.ndarray,
                   quality: bool = True) -> ModelInputs:
    """Fixed segments (``layout.window_s``, ``layout.segment_overlap``) of the preprocessed ``x``.

    ``rpeaks`` are detected R peaks (samples at ``fs``); each window's prior and its rhythm features
    (``rr``, :func:`~ecgnet_tf.preprocess.rhythm_features`) are built from those inside it only. With
    ``quality`` every window is checked by :func:`~ecgnet_tf.preprocess.assess_quality`.
    """
    seg = pp.fixed_segments(x, rpeaks, fs, layout.window_s, layout.segment_overlap)
    w = window_samples(layout, fs)
    rel = [np.asarray(r, np.int64) for r in seg.rpeaks]
    reports = [pp.assess_quality(s, fs, r) for s, r in zip(seg.windows, rel)] if quality else None
    return ModelInputs(seg.windows.astype(np.float32), prior_maps(rel, w, fs, layout.prior_kind), rel,
                       np.asarray(seg.starts, np.int64), None, int(seg.padded), reports, pp.rhythm_rows(rel, fs))


def record_inputs(layout: WindowLayout, x: np.ndarray, fs: float, rpeaks: np.ndarray,
                  quality: bool = True) -> ModelInputs:
    """Model inputs of a preprocessed record ``x`` ((n, C) at the model rate ``fs`` Hz).

    ``rpeaks`` (samples at ``fs``): for beat layouts the beats to centre windows on (reference
    annotations or detections); for segment layouts the detected R peaks.
    """
    if is_beat_layout(layout):
        return beat_inputs(layout, x, fs, rpeaks)
    return segment_inputs(layout, x, fs, rpeaks, quality)
