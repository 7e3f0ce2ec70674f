"""Rhythm decisions over the recent past of a stream: a CinC run's record model on the last ``context_s`` s.

The network sees one 10-s window at a time, about ten beats: too few to tell atrial fibrillation's
irregularly irregular rhythm from a run of ectopics. A CinC 2017 run's record model
(:mod:`ecgnet_tf.training.record_model`) decides whole 9-61 s records from record features (rhythm over
all beats, RR structure, the median beat, atrial activity) and a summary of the record's windows. In a
stream, :class:`RhythmContext` keeps the last ``context_s`` seconds of the preprocessed lead, its R peaks
and the rhythm rows / network probabilities of the windows inside them, and :class:`ContextModel`
applies the record model to that stretch as if it were a record: the decision for a window rests on the
``context_s`` seconds that end with it (causal; at the start of a stream, on what there is).

Memory is bounded by ``context_s`` seconds of one lead plus a few windows' rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..preprocess.record_features import record_features
from ..training.record_model import RecordInputs, RecordModel, has_record_model, summarise_probs, summarise_rows

#: R peaks closer than this to the previous one (s) are the same beat seen by two blocks
_REFRACTORY_S = 0.2


@dataclass(frozen=True)
class ContextWindow:
    """One window inside the context: global start / end samples (model rate), its rhythm row
    ("rr" features of the window's own beats) and the network's probabilities (None: not predicted,
    e.g. rejected by the quality gate)."""

    start: int
    end: int
    rr: np.ndarray
    probs: np.ndarray | None


class RhythmContext:
    """The last ``context_s`` seconds of a stream's preprocessed lead (mV, ``fs`` Hz), its R peaks and
    windows, in global sample indices at ``fs``."""

    def __init__(self, fs: float, context_s: float):
        if not fs > 0 or not context_s > 0:
            raise ValueError(f"fs and context_s must be positive, got {fs}, {context_s}")
        self.fs = float(fs)
        self.n = int(round(context_s * fs))
        self._x = np.zeros(0, np.float32)
        self._x0 = 0
        self._peaks = np.zeros(0, np.int64)
        self._windows: list[ContextWindow] = []

    @property
    def end(self) -> int:
        """Global index one past the last sample held."""
        return self._x0 + len(self._x)

    def extend(self, x: np.ndarray, o0: int, rpeaks: np.ndarray, upto: int) -> None:
        """Append the samples of ``x`` (one lead, ``x[0]`` at global index ``o0``) from :attr:`end` up
        to global index ``upto`` (exclusive), with the R peaks ``rpeaks`` (indices into ``x``) among
        them. A gap (``o0`` after :attr:`end`) restarts the context at ``o0``."""
        x = np.asarray(x, np.float32).reshape(-1)
        if o0 > self.end:
            self._x, self._x0, self._peaks, self._windows = np.zeros(0, np.float32), int(o0), np.zeros(0, np.int64), []
        a, b = self.end, min(int(upto), o0 + len(x))
        if b <= a:
            return
        self._x = np.concatenate([self._x, x[a - o0:b - o0]])
        new = np.asarray(rpeaks, np.int64) + o0
        new = np.sort(new[(new >= a) & (new < b)])
        gap = int(round(_REFRACTORY_S * self.fs))
        kept = []
        last = int(self._peaks[-1]) if len(self._peaks) else None
        for p in new.tolist():
            if last is None or p - last >= gap:
                kept.append(p)
                last = p
        self._peaks = np.concatenate([self._peaks, np.asarray(kept, np.int64)])
        self._trim()

    def add_window(self, window: ContextWindow) -> None:
        self._windows.append(window)
        self._trim()

    def step(self, x: np.ndarray, o0: int, rpeaks: np.ndarray, window: ContextWindow) -> None:
        """Take in the stream up to ``window``'s end (:meth:`extend`), then the window itself: what the
        monitor does for each window before deciding it on :meth:`stretch` ``(window.end)``."""
        self.extend(x, o0, rpeaks, window.end)
        self.add_window(window)

    def _trim(self) -> None:
        cut = self.end - self.n
        if cut > self._x0:
            self._x = self._x[cut - self._x0:]
            self._x0 = cut
            self._peaks = self._peaks[self._peaks >= cut]
        self._windows = [w for w in self._windows if w.start >= self._x0]

    def stretch(self, end: int) -> tuple[np.ndarray, np.ndarray, list[ContextWindow]]:
        """(signal, R peaks relative to it, windows inside it) of the ``context_s`` seconds ending at
        global index ``end`` (at most :attr:`end`)."""
        end = min(int(end), self.end)
        a = max(self._x0, end - self.n)
        x = self._x[a - self._x0:end - self._x0]
        p = self._peaks[(self._peaks >= a) & (self._peaks < end)] - a
        wins = [w for w in self._windows if w.start >= a and w.end <= end]
        return x, p, wins


def context_inputs(x: np.ndarray, rpeaks: np.ndarray, fs: float, windows: list[ContextWindow], n_rr: int,
                   n_classes: int) -> RecordInputs:
    """Record-model inputs of one stretch of signal (as :meth:`RecordInputs.build` makes them for a
    record): its record features, the summary of its windows' rhythm rows (``n_rr`` features each) and
    of the network probabilities of its predicted windows (``n_classes``)."""
    feats = record_features(x, rpeaks, fs)
    rr = np.stack([w.rr for w in windows]) if windows else np.zeros((0, n_rr))
    probs = [w.probs for w in windows if w.probs is not None]
    p = np.stack(probs) if probs else np.zeros((0, n_classes))
    return RecordInputs(["context"], feats[None].astype(np.float64), summarise_rows(rr)[None],
                        summarise_probs(p)[None])


@dataclass(frozen=True)
class ContextModel:
    """A record model applied to the last ``context_s`` seconds of a stream (:class:`RhythmContext`).

    record_model: a fitted :class:`~ecgnet_tf.training.record_model.RecordModel` whose classes are the
    window model's. context_s: seconds of the stream it decides on (CinC records are 9-61 s, most 30 s).
    """

    record_model: RecordModel
    context_s: float = 30.0

    def predict(self, ctx: RhythmContext, end: int, n_rr: int) -> np.ndarray:
        """(K,) class probabilities of the context ending at global index ``end``."""
        x, p, wins = ctx.stretch(end)
        k = len(self.record_model.classes)
        return self.record_model.predict_proba(context_inputs(x, p, ctx.fs, wins, n_rr, k))[0]

    @staticmethod
    def from_run(run_dir: Path, context_s: float = 30.0) -> "ContextModel":
        """The record model of a CinC run folder (``RUN/record_model``, written by the rhythm study)."""
        if not has_record_model(run_dir):
            raise FileNotFoundError(f"{run_dir}: no record model (python -m ecgnet_tf.rhythm_study --stages records)")
        return ContextModel(RecordModel.load(run_dir), context_s)
