"""The streaming monitor: push samples, get episode events; the batch analyser uses it too.

    mon = Monitor(classifier, MonitorConfig(fs=250.0))
    for chunk in source.chunks():
        for event in mon.push(chunk):
            ...
    mon.finish()
    mon.windows, mon.episodes, mon.beats

Memory is bounded by one block plus margins of input signal (see blocks.py), a few example strips,
and one small record per window / beat / episode.
"""
from __future__ import annotations

import copy

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .. import preprocess as pp
from ..preprocess.sqi import sqi_matrix, window_sqi
from ..signal_quality import QualityGate, default_gate
from ..tasks.inputs import ModelInputs, beat_inputs, segment_inputs
from .blocks import BlockGeometry, Chunk, cut_windows, preprocess_chunk
from .classifiers import WindowClassifier
from .config import MonitorConfig
from .context import ContextWindow, RhythmContext
from .episodes import Episode, EpisodeTracker, Event, WindowView
from .smoothing import smoothed_decision


@dataclass
class WindowDecision:
    """One analysed window. Times in s from the recording start; probs in class order (None when
    the quality gate rejected the window, which then gets the noise label)."""

    index: int
    start_s: float
    end_s: float
    own_start_s: float
    own_end_s: float
    ok: bool
    reasons: tuple[str, ...]
    label: str
    prob: float | None
    probs: tuple[float, ...] | None
    hr_bpm: float
    n_beats: int
    quality_score: float | None = None  # the fitted gate's probability of unreadable (None: no gate)
    context_probs: tuple[float, ...] | None = None  # the context model's probabilities (MonitorConfig.context)

    @property
    def decision_probs(self) -> tuple[float, ...] | None:
        """The probabilities the window's label rests on: the context model's when it decided."""
        return self.context_probs if self.context_probs is not None else self.probs

    @property
    def own_s(self) -> float:
        return self.own_end_s - self.own_start_s


@dataclass
class BeatDecision:
    """One beat classified by the beat model: R-peak time (s), class letter and its probability."""

    time_s: float
    label: str
    prob: float


@dataclass
class ExampleStrip:
    """A preprocessed ECG excerpt (lead ``rpeak_lead``, mV, model rate ``fs`` Hz) around one window;
    the window occupies samples [w0, w0 + wlen) of ``signal``; ``t0_s`` is the time of sample 0."""

    label: str
    prob: float | None
    reasons: tuple[str, ...]
    t0_s: float
    fs: float
    signal: np.ndarray
    w0: int
    wlen: int


class Monitor:
    """Continuous rhythm monitor over a stream of (n, C) samples at ``cfg.fs`` Hz."""

    def __init__(self, classifier: WindowClassifier, cfg: MonitorConfig,
                 beat_classifier: WindowClassifier | None = None):
        spec = classifier.spec
        if spec.prior_kind == "beat":
            raise ValueError(f"{spec.task} is a beat model; the monitor needs a rhythm (segment) model, "
                             "pass beat models as beat_classifier")
        self.classifier = classifier
        self.beat_classifier = beat_classifier
        self.cfg = cfg
        self.spec = spec
        self.geom = BlockGeometry.make(cfg.fs, spec.fs, spec.window_samples, spec.hop_samples,
                                       cfg.block_windows, cfg.margin_s)
        self.tracker = EpisodeTracker(cfg.background, cfg.gap_windows, cfg.min_windows)
        self._af_index = self._af_class_index() if cfg.smoothing else None
        self.gate: QualityGate | None = (cfg.quality_gate or default_gate()) if cfg.use_quality_gate else None
        self._recent: list[np.ndarray] = []  # probabilities of the last quality-passed windows (smoothing)
        self.windows: list[WindowDecision] = []
        self.beats: list[BeatDecision] = []
        self.rejected_by_reason: Counter = Counter()
        self.examples: dict[str, ExampleStrip] = {}
        self.n_samples = 0
        self.peak_buffered_samples = 0  # most input samples held at once (memory bound check)
        self.finished = False
        self._buf = np.zeros((0, spec.n_leads))
        self._buf_start = 0
        self._pieces: list[np.ndarray] = []
        self._next_block = 0
        # RR features of the stream's beats (beat models with a rhythm branch): running statistics over
        # every beat so far, one beat of look-ahead (see preprocess.RRTracker)
        self._rr = pp.RRTracker(spec.fs)
        self._rr_context = pp.RRContextTracker()  # the irregularity of the beats before each one
        # beat-template features (beat models with the "morph" input): the median of the stream's
        # previous beats, carried across blocks (see preprocess.TemplateTracker); made at the beat model's rate
        self._template: pp.TemplateTracker | None = None
        # the recent past of the stream for the context model (MonitorConfig.context)
        self._context: RhythmContext | None = (RhythmContext(spec.fs, cfg.context.context_s)
                                               if cfg.context is not None else None)

    # ------------------------------------------------------------------ public API
    @property
    def episodes(self) -> list[Episode]:
        return self.tracker.episodes

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.cfg.fs

    @property
    def buffered_samples(self) -> int:
        """Input samples currently held (not yet discarded)."""
        return self.n_samples - self._buf_start

    def push(self, samples: np.ndarray) -> list[Event]:
        """Append ``samples`` ((n,) or (n, C), mV, at ``cfg.fs``); returns events of completed blocks."""
        if self.finished:
            raise RuntimeError("push() after finish()")
        x = np.asarray(samples, dtype=np.float64)
        x = x[:, None] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[1] != self.spec.n_leads:
            raise ValueError(f"expected (n, {self.spec.n_leads}) samples, got shape {np.shape(samples)}")
        bad = ~np.isfinite(x)
        if bad.any():
            i = int(np.argwhere(bad)[0][0]) + self.n_samples
            raise ValueError(f"non-finite sample at index {i} (t = {i / self.cfg.fs:.3f} s)")
        if len(x):
            self._pieces.append(x)
            self.n_samples += len(x)
            self.peak_buffered_samples = max(self.peak_buffered_samples, self.buffered_samples)
        events: list[Event] = []
        while self.n_samples >= self.geom.in_need(self._next_block):
            b = self._next_block
            events += self._process(b, self.geom.in_need(b), None, final=False)
        return events

    def finish(self) -> list[Event]:
        """End of the recording: process what is left and close open episodes."""
        if self.finished:
            return []
        g = self.geom
        total = g.n_windows(self.n_samples)
        events: list[Event] = []
        while self.n_samples > 0:
            k0, k1 = g.windows_of(self._next_block)
            k1 = min(k1, total)
            if k1 <= k0:
                if not self.windows:
                    events += self._short_record()
                elif self.beat_classifier is not None:
                    events += self._process(self._next_block, self.n_samples, k0, final=True)
                break
            final = k1 == total
            events += self._process(self._next_block, self.n_samples, k1, final=final)
            if final:
                break
        self._pieces, self._buf = [], np.zeros((0, self.spec.n_leads))
        last_end = None
        if self.windows:
            last = self.windows[-1]
            last.own_end_s = max(last.own_end_s, last.end_s)
            last_end = last.own_end_s
        events += self.tracker.finish(self.duration_s, last_end)
        self.finished = True
        return events

    # ------------------------------------------------------------------ internals
    def _take(self, s0: int, s1: int) -> np.ndarray:
        if self._pieces:
            self._buf = np.concatenate([self._buf] + self._pieces, axis=0)
            self._pieces = []
        return self._buf[s0 - self._buf_start:s1 - self._buf_start]

    def _drop_before(self, s: int) -> None:
        if s > self._buf_start:
            self._take(self._buf_start, self._buf_start)  # consolidate pieces first
            self._buf = self._buf[s - self._buf_start:].copy()
            self._buf_start = s

    def _chunk(self, s0: int, s1: int) -> tuple[np.ndarray, Chunk]:
        raw = self._take(s0, s1)
        return raw, preprocess_chunk(raw, s0, self.cfg.fs, self.spec.preprocess, self.geom, self.cfg.rpeak_lead)

    def _process(self, b: int, s1: int, k1_limit: int | None, final: bool) -> list[Event]:
        g = self.geom
        s0 = g.in_start(b)
        raw, chunk = self._chunk(s0, s1)
        k0, k1 = g.windows_of(b)
        if k1_limit is not None:
            k1 = min(k1, k1_limit)
        events: list[Event] = []
        if k1 > k0:
            events = self._analyse(cut_windows(chunk, k0, k1, g, self.spec, self.spec.fs), k0, chunk, raw, s0)
        if self.beat_classifier is not None:
            own0 = k0 * g.hop
            own1 = np.iinfo(np.int64).max if final else g.windows_of(b)[1] * g.hop
            self._classify_beats(raw, chunk, own0, own1)
        self._next_block = b + 1
        self._drop_before(min(g.in_start(b + 1), self.n_samples))
        return events

    def _short_record(self) -> list[Event]:
        """A recording shorter than one window: one zero-padded window, as in training."""
        raw, chunk = self._chunk(0, self.n_samples)
        m = segment_inputs(self.spec, chunk.x, self.spec.fs, chunk.rpeaks)
        events = self._analyse(m.take([0]), 0, chunk, raw, 0)
        if self.beat_classifier is not None:
            self._classify_beats(raw, chunk, 0, np.iinfo(np.int64).max)
        return events

    def _gate_windows(self, seg: ModelInputs, raw: np.ndarray, raw0: int) -> tuple[np.ndarray, list, np.ndarray]:
        """The fitted gate on each window's raw lead (input rate, before preprocessing, as it was
        fitted): (ok (n,), reasons per window, score (n,))."""
        fs_in, w_in = self.cfg.fs, int(round(self.spec.window_samples / self.spec.fs * self.cfg.fs))
        rows = []
        for st in seg.starts:
            a = max(0, int(round(st / self.spec.fs * fs_in)) - raw0)
            rows.append(window_sqi(raw[a:a + w_in, self.cfg.rpeak_lead], fs_in))
        d = self.gate.decide(sqi_matrix(rows))
        return d.ok, d.reasons, d.score

    def _analyse(self, seg: ModelInputs, k0: int, chunk: Chunk, raw: np.ndarray | None = None,
                 raw0: int = 0) -> list[Event]:
        """Decide the windows of ``seg``: the preprocessing checks (``seg.quality``) and, when set,
        the fitted gate on the raw lead (``raw`` input samples starting at input sample ``raw0``)."""
        spec, cfg, fs, g = self.spec, self.cfg, self.spec.fs, self.geom
        w = spec.window_samples
        reports = seg.quality
        ok = seg.ok.copy()
        reasons = [tuple(q.reasons) for q in reports]
        scores: list[float | None] = [None] * len(ok)
        if self.gate is not None and raw is not None and len(ok):
            g_ok, g_reasons, g_score = self._gate_windows(seg, raw, raw0)
            ok &= g_ok
            reasons = [tuple(dict.fromkeys(r + tuple(gr))) for r, gr in zip(reasons, g_reasons)]
            scores = [float(v) for v in g_score]
        probs = np.zeros((len(ok), len(spec.classes)))
        if ok.any():
            probs[ok] = self._predict_segments(seg.take(np.flatnonzero(ok)))
        events: list[Event] = []
        for i, q in enumerate(reports):
            k = k0 + i
            a, b = g.own_bounds(k)
            start = float(seg.starts[i] / fs)
            ctx_p = None
            if self._context is not None:
                s0, n_rr = int(seg.starts[i]), len(pp.RHYTHM_FEATURE_NAMES)
                rr_row = np.zeros(n_rr) if seg.rr is None else np.asarray(seg.rr[i], np.float64)
                # the stream up to this window's end only (the context holds the last context_s seconds)
                self._context.step(chunk.x[:, cfg.rpeak_lead], chunk.o0, chunk.rpeaks,
                                   ContextWindow(s0, s0 + w, rr_row, probs[i].copy() if ok[i] else None))
                if ok[i]:
                    ctx_p = cfg.context.predict(self._context, s0 + w, n_rr)
            if ok[i]:
                c, p_dec = self._decide(probs[i] if ctx_p is None else ctx_p)
                label, prob, p = cfg.labels.get(spec.classes[c], spec.classes[c]), float(p_dec[c]), tuple(
                    float(v) for v in probs[i])
            else:
                label, prob, p = cfg.noise_label, None, None
                self.rejected_by_reason.update(reasons[i])
                events.append(Event("window_rejected", start + w / fs, label, start, start + w / fs,
                                    reasons=reasons[i]))
            d = WindowDecision(k, start, start + w / fs, a / fs, b / fs, bool(ok[i]), reasons[i], label,
                               prob, p, float(q.metrics.get("heart_rate_bpm", float("nan"))),
                               int(q.metrics.get("n_beats", 0)), scores[i],
                               None if ctx_p is None else tuple(float(v) for v in ctx_p))
            self.windows.append(d)
            self._keep_example(d, chunk, seg.starts[i])
            events += self.tracker.update(WindowView(k, label, d.own_start_s, d.own_end_s, d.end_s, prob, not d.ok))
        return events

    def _af_class_index(self) -> int:
        hits = [i for i, c in enumerate(self.spec.classes) if self.cfg.labels.get(c, c) == self.cfg.af_label]
        if not hits:
            raise ValueError(f"AF smoothing needs a class labelled {self.cfg.af_label!r}; model classes "
                             f"{list(self.spec.classes)}")
        return hits[0]

    def _decide(self, probs: np.ndarray) -> tuple[int, np.ndarray]:
        """Class index and the probabilities it rests on for the newest quality-passed window: its
        own argmax, or the causal smoothing (:func:`~ecgnet_tf.monitor.smoothing.smoothed_decision`)."""
        sm = self.cfg.smoothing
        if sm is None:
            return int(np.argmax(probs)), probs
        self._recent = (self._recent + [np.asarray(probs, np.float64)])[-sm.smooth_windows:]
        return smoothed_decision(np.stack(self._recent), self._af_index, sm)

    def _predict_segments(self, seg: ModelInputs) -> np.ndarray:
        """Class probabilities (n, K) of segment windows. A model with the "rr" input gets each
        window's rhythm features (``seg.rr``: made by ``tasks.segment_inputs`` from the window's own R
        peaks, as in training) through ``predict_feed``; others get ``predict(ecg, prior)``."""
        feed = self.spec.prepare(seg.named())
        if "rr" in self.spec.inputs:
            return self.classifier.predict_feed(feed)
        return self.classifier.predict(feed["ecg"], feed["prior"][..., 0])

    def _keep_example(self, d: WindowDecision, chunk: Chunk, start: int) -> None:
        key = d.label if d.ok else "rejected"
        old = self.examples.get(key)
        if old is not None and (not d.ok or (old.prob or 0) >= (d.prob or 0)):
            return
        if old is None and len(self.examples) >= self.cfg.n_examples + 1:
            return
        fs, w = self.spec.fs, self.spec.window_samples
        ctx = int(round(2.5 * fs))
        a = max(0, start - chunk.o0 - ctx)
        b = min(chunk.x.shape[0], start - chunk.o0 + w + ctx)
        sig = chunk.x[a:b, self.cfg.rpeak_lead].astype(np.float32).copy()
        self.examples[key] = ExampleStrip(d.label, d.prob, d.reasons, (chunk.o0 + a) / fs, fs, sig,
                                          start - chunk.o0 - a, w)

    def _stream_rr(self, beats: np.ndarray, after: np.ndarray) -> np.ndarray:
        """(n, F) "rr" rows of this block's ``beats`` (global samples at the model rate, ascending):
        RR features from every beat of the stream so far (causal running statistics) plus one beat of
        look-ahead: the block's next beat, ``after[0]`` (as this block's detector sees it), or none at
        the end of the stream; then the recent-rhythm context of the beats before each one. Equal to
        :func:`ecgnet_tf.tasks.inputs.beat_rr_rows` over the stream's beats, except where the next
        block places that next beat differently."""
        rows = []
        skip = self._rr.n_pushed > 0  # the first row returned is the previous block's last beat (done by peeking)
        for b in beats.tolist():
            row = self._rr.push(int(b))
            if row is not None and not skip:
                rows.append(row)
            skip = False
        # the block's last beat needs the next one, which belongs to the next block: peek with a copy
        peek = copy.deepcopy(self._rr)
        last = peek.push(int(after[0])) if len(after) else peek.flush()
        if len(beats):
            rows.append(last)
        rr = np.asarray(rows, np.float32).reshape(len(beats), len(pp.RR_FEATURE_NAMES))
        # a beat's pre-RR is final once the beat is known (only its post-RR waits for the next beat), so
        # each beat enters the context tracker exactly once, here
        ctx = np.asarray([self._rr_context.push(float(v)) for v in rr[:, 0]], np.float32)
        return np.concatenate([rr, ctx.reshape(len(beats), len(pp.RR_CONTEXT_NAMES))], axis=1)

    def _classify_beats(self, raw: np.ndarray, chunk: Chunk, own0: int, own1: int) -> None:
        bc = self.beat_classifier
        bspec = bc.spec
        lead = raw[:, [self.cfg.rpeak_lead]] if bspec.n_leads == 1 else raw
        if bspec.preprocess == self.spec.preprocess and lead.shape[1] == chunk.x.shape[1]:
            xb, fsb = chunk.x, self.spec.fs
        elif bspec.preprocess == self.spec.preprocess:
            xb, fsb = chunk.x[:, [self.cfg.rpeak_lead]], self.spec.fs
        else:
            xb, fsb = pp.preprocess_signal(lead, self.cfg.fs, bspec.preprocess)
        r_glob = chunk.rpeaks + chunk.o0
        sel = chunk.rpeaks[(r_glob >= own0) & (r_glob < own1)]
        if sel.size == 0:
            return
        rb = pp.resample_indices(sel, self.spec.fs, fsb) if fsb != self.spec.fs else sel
        rr = self._stream_rr(sel + chunk.o0, r_glob[r_glob >= own1]) if "rr" in bspec.inputs else None
        m = beat_inputs(bspec, xb, fsb, rb)
        if len(m) == 0:
            return
        named = m.named()
        if rr is not None:
            named["rr"] = rr[m.kept]
        if "morph" in bspec.inputs:  # the stream's template, not one restarted in every block
            if self._template is None:
                self._template = pp.TemplateTracker(fsb)
            named["morph"] = self._template.push_windows(m.x)
        feed = bspec.prepare(named)
        probs = bspec.decision.rescale(bc.predict_feed(feed))  # the model's decision rule (class_scale)
        top = probs.argmax(axis=1)
        for r, c, p in zip(sel[m.kept], top, probs):
            self.beats.append(BeatDecision((r + chunk.o0) / self.spec.fs, bspec.classes[c], float(p[c])))
