"""The gate over long recordings: streamed windows equal whole-signal windows, and 24 hours stay
within a fixed memory bound."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from ecgnet_tf.signal_quality import window_starts
from ecgnet_tf.signal_quality.stream import QualitySummary, _windows, stream_quality
from ecgnet_tf.signal_quality.gate import QualityGate
from ecgnet_tf.signal_quality.features import GATE_FEATURES


def _gate(window_s: float = 10.0, step_s: float = 5.0) -> QualityGate:
    k = len(GATE_FEATURES)
    return QualityGate(mean=(0.0,) * k, scale=(1.0,) * k, coef=(0.0,) * k, intercept=-3.0, reference=(0.0,) * k,
                       window_threshold=0.5, window_s=window_s, step_s=step_s)


@pytest.mark.parametrize("n", [500, 1000, 1001, 5321, 12_000])
@pytest.mark.parametrize("chunk", [7, 250, 999, 20_000])
def test_streamed_windows_equal_whole_signal_windows(n, chunk):
    fs = 100.0
    x = np.random.default_rng(n).normal(size=n)
    got = list(_windows((x[i:i + chunk] for i in range(0, n, chunk)), fs, 10.0, 5.0))
    starts = window_starts(n, fs, 10.0, 5.0)
    assert [s for s, _ in got] == starts.tolist()
    w = min(n, 1000)
    for s, win in got:
        assert np.array_equal(win, x[s:s + w])


def _day(fs: float, hours: float):
    beat = np.zeros(int(fs))
    beat[10:14] = [0.3, 1.0, -0.3, 0.1]
    block = np.tile(beat, 60) + 0.01 * np.random.default_rng(0).normal(size=int(60 * fs))
    for _ in range(int(hours * 60)):
        yield block


def test_a_day_streams_in_bounded_memory():
    """24 h at 125 Hz (one window every 10 s): never more than one window + one chunk of signal held,
    and the gate's allocations (tracemalloc, over the first hour: it slows Python down) stay small."""
    fs = 125.0
    stats: dict = {}
    summary = QualitySummary(step_s=10.0)
    for w in stream_quality(_day(fs, 24.0), fs, _gate(10.0, 10.0), stats=stats):
        summary.add(w)
    assert summary.windows == 24 * 360
    assert stats["max_buffer"] <= int(10 * fs) + int(60 * fs)
    tracemalloc.start()
    for w in stream_quality(_day(fs, 1.0), fs, _gate(10.0, 10.0)):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2 ** 20, f"peak {peak / 2 ** 20:.1f} MiB"
