"""AF smoothing: the monitor decides as the pure function says, and settings are chosen on validation streams."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet_tf.monitor.config import MonitorConfig
from ecgnet_tf.monitor.monitor import Monitor
from ecgnet_tf.monitor.smoothing import (AFSmoothing, load_smoothing, save_smoothing, smoothed_decision,
                                         smoothed_decisions)
from ecgnet_tf.monitor.smoothing_fit import choose_smoothing, score_stream, validation_streams
from ecgnet_tf import preprocess as pp
from ecgnet_tf.runs import ModelSpec
from ecgnet_tf.synthetic import synth_ecg

AF = 1
FS = 250.0


def test_vectorised_decisions_equal_the_streaming_rule():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=200)
    ok = rng.random(200) > 0.1
    for sm in (AFSmoothing(), AFSmoothing(3, 0.35), AFSmoothing(4, 0.6)):
        fast = smoothed_decisions(probs, ok, AF, sm)
        hist, slow = [], []
        for p, good in zip(probs, ok):
            if not good:
                slow.append(-1)
                continue
            hist.append(p)
            slow.append(smoothed_decision(np.stack(hist), AF, sm)[0])
        assert fast.tolist() == slow
    with pytest.raises(ValueError):
        AFSmoothing(smooth_windows=0)
    with pytest.raises(ValueError):
        AFSmoothing(af_threshold=1.5)


def test_settings_round_trip_through_the_run_folder(tmp_path):
    assert load_smoothing(tmp_path) is None and load_smoothing(None) is None
    sm = AFSmoothing(2, 0.4, 1, 3)
    save_smoothing(tmp_path, sm, {"why": "test"})
    assert load_smoothing(tmp_path) == sm
    assert json.loads((tmp_path / "af_smoothing.json").read_text())["why"] == "test"


def test_streams_keep_records_whole_and_score_episodes():
    record = np.repeat([f"r{i}" for i in range(10)], 3)
    y = np.repeat([0, 1] * 5, 3)
    probs = np.eye(4)[y]
    streams = validation_streams(record, y, probs, AF, n_streams=2, seed=3)
    again = validation_streams(record, y, probs, AF, n_streams=2, seed=3)
    assert [s.record.tolist() for s in streams] == [s.record.tolist() for s in again]
    assert sum(len(s.probs) for s in streams) == 30
    for s in streams:
        for rid in set(s.record.tolist()):
            idx = np.flatnonzero(s.record == rid)
            assert idx.tolist() == list(range(idx[0], idx[0] + 3))  # windows of a record stay together
    ref = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 1], bool)
    det = np.array([0, 0, 0, 1, 1, 0, 1, 0, 0, 0], bool)
    m = score_stream(det, ref, AFSmoothing(max_gap_windows=0), hop_s=5.0)
    assert (m["n_reference"], m["tp_reference"], m["n_detected"], m["tp_detected"]) == (2, 1, 2, 1)
    assert m["latencies_s"] == [10.0] and m["false_af_windows"] == 1
    assert score_stream(det, ref, AFSmoothing(max_gap_windows=1), hop_s=5.0)["n_detected"] == 1  # gap bridged


def test_choice_suppresses_isolated_false_windows():
    """Validation streams whose only errors are single-window AF spikes in non-AF records: a
    minimum episode length (or averaging) must be chosen, and it must beat deciding each window alone."""
    rng = np.random.default_rng(1)
    recs, ys, ps = [], [], []
    for i in range(120):
        label = 1 if i % 4 == 0 else 0
        n = 6
        p = np.tile([0.9, 0.05, 0.03, 0.02], (n, 1)) if label == 0 else np.tile([0.1, 0.85, 0.03, 0.02], (n, 1))
        if label == 0 and rng.random() < 0.5:
            p[rng.integers(n)] = [0.1, 0.85, 0.03, 0.02]  # as sure as a true AF window
        recs += [f"r{i}"] * n
        ys += [label] * n
        ps.append(p)
    streams = validation_streams(np.array(recs), np.array(ys), np.vstack(ps), AF, n_streams=3, seed=0)
    sm, ev = choose_smoothing(streams, AF, hop_s=5.0)
    assert sm.min_episode_windows >= 2 or sm.smooth_windows >= 2
    assert ev["validation"]["episode_ppv"] > ev["unsmoothed_validation"]["episode_ppv"]
    assert ev["validation"]["episode_sensitivity"] >= 0.95


class _SpikyClassifier:
    """P(AF) 0.9 for windows listed in ``spikes`` (window index), else N: the monitor's decisions are
    then known exactly."""

    def __init__(self, spikes):
        self.spec = ModelSpec("spiky", ("N", "A", "O", "~"), 10.0, 0.5, "af", pp.PreprocessConfig(),
                              pp.ZScore(np.zeros(1), np.ones(1)))
        self.spikes = set(spikes)
        self.k = 0

    def predict(self, ecg, prior):
        out = np.zeros((len(ecg), 4))
        for i in range(len(ecg)):
            out[i, 1 if self.k in self.spikes else 0] = 0.9
            out[i, 0 if self.k in self.spikes else 1] = 0.1
            self.k += 1
        return out


def test_monitor_applies_the_run_smoothing():
    x = synth_ecg(120.0, FS, 70, "sinus", seed=0).signal
    spikes = [3, 10, 11, 12]  # one isolated AF window, then three in a row
    plain = Monitor(_SpikyClassifier(spikes), MonitorConfig(fs=FS))
    plain.push(x)
    plain.finish()
    assert [(e.first, e.last) for e in plain.episodes if e.label == "AF"] == [(3, 3), (10, 12)]
    smooth = Monitor(_SpikyClassifier(spikes), MonitorConfig(fs=FS, smoothing=AFSmoothing(min_episode_windows=2)))
    smooth.push(x)
    smooth.finish()
    assert [(e.first, e.last) for e in smooth.episodes if e.label == "AF"] == [(10, 12)]
    avg = Monitor(_SpikyClassifier(spikes), MonitorConfig(fs=FS, smoothing=AFSmoothing(smooth_windows=2,
                                                                                      af_threshold=0.5)))
    avg.push(x)
    avg.finish()
    # mean of two windows: the lone spike gives 0.5 (>= threshold) for windows 3 and 4; the run 10-12 lasts to 13
    assert [(e.first, e.last) for e in avg.episodes if e.label == "AF"] == [(3, 4), (10, 13)]
