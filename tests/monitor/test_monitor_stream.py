"""Streaming monitor with a model-free RR-irregularity classifier: planted AF, stream == batch,
block-wise preprocessing == whole-record preprocessing, bounded memory on a multi-hour file."""
from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

import ecgnet_tf  # noqa: F401
from ecgnet_tf import preprocess as pp
from ecgnet_tf.monitor.batch import run_source
from ecgnet_tf.monitor.blocks import BlockGeometry, cut_windows, preprocess_chunk
from ecgnet_tf.monitor.config import MonitorConfig
from ecgnet_tf.monitor.monitor import Monitor
from ecgnet_tf.monitor.rule import RRRuleClassifier, rule_spec
from ecgnet_tf.monitor.sources import open_source
from ecgnet_tf.synthetic import synth_ecg

FS = 250.0
# (rhythm, seconds): AF at 120-300 s and 420-480 s of a 10-min recording
PLAN = [("sinus", 120), ("af", 180), ("sinus", 120), ("af", 60), ("sinus", 120)]
TRUE_AF = [(120.0, 300.0), (420.0, 480.0)]
HOP_S = 5.0


def planted(plan=PLAN, fs=FS, n_leads=1, seed=0) -> np.ndarray:
    parts = [synth_ecg(d, fs, 95 if r == "af" else 70, r, n_leads=n_leads, seed=seed + i).signal
             for i, (r, d) in enumerate(plan)]
    return np.concatenate(parts).astype(np.float64)


@pytest.fixture(scope="module")
def recording() -> np.ndarray:
    return planted()


@pytest.fixture(scope="module")
def batch(recording, tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "rec.npy"
    np.save(path, recording)
    src = open_source(path, "npy", FS)
    return run_source(src, RRRuleClassifier(rule_spec()), MonitorConfig(fs=FS))


def test_planted_af_found_at_the_right_times(batch):
    af = [(e.start_s, e.end_s) for e in batch.episodes if e.label == "AF"]
    assert len(af) == len(TRUE_AF), af
    for (a, b), (ta, tb) in zip(af, TRUE_AF):
        assert abs(a - ta) <= HOP_S and abs(b - tb) <= HOP_S
    assert not [e for e in batch.episodes if e.label != "AF"]
    assert len(batch.windows) == (600 - 10) // 5 + 1
    # owned segments tile the recording from 0 to the last window's end
    own = np.array([[w.own_start_s, w.own_end_s] for w in batch.windows])
    assert own[0, 0] == 0 and own[-1, 1] == pytest.approx(batch.windows[-1].end_s)
    assert np.allclose(own[1:, 0], own[:-1, 1])


def test_streaming_random_chunks_equals_batch(recording, batch):
    rng = np.random.default_rng(7)
    mon = Monitor(RRRuleClassifier(rule_spec()), MonitorConfig(fs=FS))
    events, i = [], 0
    while i < len(recording):
        n = int(rng.choice([1, 17, 250, 3001, 40_000, 90_000]))
        events += mon.push(recording[i:i + n])
        i += n
    events += mon.finish()
    key = lambda w: (w.index, w.start_s, w.ok, w.reasons, w.label, w.probs)  # noqa: E731
    assert [key(w) for w in mon.windows] == [key(w) for w in batch.windows]
    assert [(e.label, e.first, e.last, e.start_s, e.end_s, e.alarm_s) for e in mon.episodes] == \
           [(e.label, e.first, e.last, e.start_s, e.end_s, e.alarm_s) for e in batch.episodes]
    starts = [e for e in events if e.kind == "episode_start" and e.label == "AF"]
    assert len(starts) == 2
    # an alarm is raised while streaming, at most two windows after the true onset
    assert all(0 < ev.time_s - t[0] <= 20 for ev, t in zip(starts, TRUE_AF))


def test_block_preprocessing_matches_whole_record(recording):
    spec = rule_spec()
    full, fs = pp.preprocess_signal(recording, FS, spec.preprocess)
    full_peaks = pp.detect_rpeaks(full, fs)
    g = BlockGeometry.make(FS, spec.fs, spec.window_samples, spec.hop_samples, 8, margin_s=10.0)
    for b in (0, 2, 5):
        s0, s1 = g.in_start(b), g.in_need(b)
        chunk = preprocess_chunk(recording[s0:s1], s0, FS, spec.preprocess, g)
        k0, k1 = g.windows_of(b)
        seg = cut_windows(chunk, k0, k1, g, spec, spec.fs)
        ref = pp.fixed_segments(full, full_peaks, fs, spec.window_s, spec.segment_overlap)
        assert np.array_equal(seg.starts, ref.starts[k0:k1])
        assert np.abs(seg.x - ref.windows[k0:k1]).max() < 1e-4  # mV
        same = sum(np.array_equal(a, r) for a, r in zip(seg.rpeaks, ref.rpeaks[k0:k1]))
        assert same >= k1 - k0 - 1
    # without a margin the block edges differ visibly: the margin matters
    g0 = BlockGeometry.make(FS, spec.fs, spec.window_samples, spec.hop_samples, 8, margin_s=0.0)
    s0, s1 = g0.in_start(2), g0.in_need(2)
    seg0 = cut_windows(preprocess_chunk(recording[s0:s1], s0, FS, spec.preprocess, g0), 16, 24, g0, spec, spec.fs)
    ref = pp.fixed_segments(full, full_peaks, fs, spec.window_s, spec.segment_overlap)
    assert np.abs(seg0.x - ref.windows[16:24]).max() > 1e-3


def test_twelve_lead_500hz_and_short_record():
    x = planted([("sinus", 40), ("af", 60)], fs=500.0, n_leads=12)
    mon = Monitor(RRRuleClassifier(rule_spec(n_leads=12)), MonitorConfig(fs=500.0, block_windows=4))
    mon.push(x)
    mon.finish()
    assert len(mon.windows) == 19
    assert [e.label for e in mon.episodes] == ["AF"]
    assert abs(mon.episodes[0].start_s - 40) <= HOP_S
    short = Monitor(RRRuleClassifier(rule_spec()), MonitorConfig(fs=FS))
    short.push(planted([("sinus", 7)]))
    short.finish()
    assert len(short.windows) == 1 and short.windows[0].end_s == 10.0


def test_multi_hour_npy_bounded_memory(tmp_path):
    fs, hours = 360.0, 3
    path = tmp_path / "holter.npy"
    piece = planted([("sinus", 300), ("af", 300)], fs=fs, seed=3)  # 10 min
    reps = hours * 6
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(reps * len(piece), 1))
    for i in range(reps):
        arr[i * len(piece):(i + 1) * len(piece)] = piece
    arr.flush()
    del arr
    n_total = reps * len(piece)
    src = open_source(path, "npy", fs)
    assert isinstance(src.arr, np.memmap)  # nothing is loaded when the file is opened
    chunk = 65_536
    sizes = []

    def chunks(n):
        for c in src.chunks(n):
            sizes.append(len(c))
            yield c

    cfg = MonitorConfig(fs=fs, block_windows=48)
    mon = Monitor(RRRuleClassifier(rule_spec()), cfg)
    t = time.perf_counter()
    for c in chunks(chunk):
        mon.push(c)
    mon.finish()
    elapsed = time.perf_counter() - t
    assert sum(sizes) == n_total and max(sizes) <= chunk
    assert mon.duration_s == pytest.approx(hours * 3600)
    assert len(mon.windows) == (hours * 3600 - 10) // 5 + 1
    assert len([e for e in mon.episodes if e.label == "AF"]) == reps
    # the monitor never holds more than one block (48 windows = 245 s) + 2 x 10 s margins + one read
    # chunk of input samples, whatever the recording length (3 h = 3.9 M samples)
    bound = (245 + 2 * 10) * fs + chunk + 2 * mon.geom.down
    assert mon.peak_buffered_samples <= bound < n_total / 10
    print(f"3 h at 360 Hz in {elapsed:.1f} s, peak buffer {mon.peak_buffered_samples} samples")


def test_memory_does_not_grow_with_duration():
    """tracemalloc peak of a 15-min stream is about that of a 5-min stream (no accumulation)."""
    fs = 360.0
    piece = planted([("sinus", 150), ("af", 150)], fs=fs, seed=5)
    peaks = []
    for reps in (1, 3):
        mon = Monitor(RRRuleClassifier(rule_spec()), MonitorConfig(fs=fs, block_windows=12))
        tracemalloc.start()
        for _ in range(reps):
            for i in range(0, len(piece), 36_000):
                mon.push(piece[i:i + 36_000])
        mon.finish()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # the extra 10 min alone would be 1.7 MB of float64; the extra per-window records add ~0.1 MB
    assert peaks[1] < peaks[0] + 0.8e6, peaks


class _Recorder:
    """Records what the monitor feeds a classifier; answers 'N'."""

    def __init__(self, spec):
        self.spec = spec
        self.ecg, self.prior, self.rr, self.morph = [], [], [], []

    def predict(self, ecg, prior):
        self.ecg.append(ecg.copy())
        self.prior.append(prior.copy())
        out = np.zeros((len(ecg), len(self.spec.classes)))
        out[:, 0] = 1
        return out

    def predict_feed(self, feed):
        if "rr" in feed:
            self.rr.append(np.asarray(feed["rr"]).copy())
        if "morph" in feed:
            self.morph.append(np.asarray(feed["morph"]).copy())
        prior = np.asarray(feed["prior"])
        return self.predict(feed["ecg"], prior[..., 0] if prior.ndim == 3 else prior)


def test_windows_identical_to_training_windows():
    """A 30-s CinC-like record: the monitor feeds exactly the training windows (same functions)."""
    import dataclasses

    from ecgnet_tf.tasks import get_task, signal_windows

    task = get_task("cinc2017")
    sig = synth_ecg(30, 300, 95, "af", seed=4).signal
    spec = dataclasses.replace(rule_spec(), zscore=pp.ZScore(np.array([0.1]), np.array([0.5])))
    rw = signal_windows(task, "rec", sig, 300.0, spec.preprocess, ("ECG",), label="A")
    train = {"x": rw.x, "prior": rw.prior, "ok": rw.ok}
    rec = _Recorder(spec)
    mon = Monitor(rec, MonitorConfig(fs=300.0))
    mon.push(sig)
    mon.finish()
    ecg, prior = np.concatenate(rec.ecg), np.concatenate(rec.prior)
    assert train["ok"].all() and len(ecg) == len(train["x"]) == 5
    assert np.allclose(ecg, spec.zscore.transform(train["x"]), atol=1e-5)
    # the same prior values, float16 precision on both paths (no train/serve skew)
    assert np.array_equal(prior, train["prior"])


def test_segment_model_with_rr_input_gets_each_windows_rhythm_features():
    """A segment classifier with the "rr" input (edge-rhythm): the monitor feeds every window the
    rhythm features of its own R peaks, the rows training cuts (tasks.segment_inputs); a model without
    the input is fed none."""
    import dataclasses

    from ecgnet_tf.tasks import get_task, signal_windows

    sig = planted([("sinus", 40), ("af", 50), ("sinus", 30)], fs=300.0, seed=6)
    spec = dataclasses.replace(rule_spec(), task="cinc2017", inputs=("ecg", "prior", "rr"),
                               zscore=pp.ZScore(np.array([0.1]), np.array([0.5])))
    rw = signal_windows(get_task("cinc2017"), "rec", sig, 300.0, spec.preprocess, ("ECG",), label="A")
    rec = _Recorder(spec)
    mon = Monitor(rec, MonitorConfig(fs=300.0, block_windows=6))  # several blocks: per-block R peaks
    for i in range(0, len(sig), 4000):
        mon.push(sig[i:i + 4000])
    mon.finish()
    rr = np.concatenate(rec.rr)
    ok = np.array([w.ok for w in mon.windows])
    assert rr.shape == (ok.sum(), len(pp.RHYTHM_FEATURE_NAMES)) and len(mon.windows) == len(rw) == 23
    assert np.array_equal(ok, rw.ok)
    same = np.all(np.abs(rr - rw.rr[ok]) < 1e-6, axis=1)
    assert same.mean() > 0.9, same  # a block edge may place an R peak a sample apart
    irr = pp.RHYTHM_FEATURE_NAMES.index("nrmssd")
    af = [i for i, w in enumerate(np.array(mon.windows)[ok]) if 45 <= w.start_s <= 75]
    assert rr[af, irr].min() > 3 * rr[:3, irr].max()  # the AF windows are fed irregular rows
    plain = _Recorder(rule_spec())
    mon = Monitor(plain, MonitorConfig(fs=300.0))
    mon.push(sig[:300 * 30])
    mon.finish()
    assert plain.rr == [] and plain.ecg


def test_beat_table_counts_each_beat_once():
    from ecgnet_tf.runs import ModelSpec

    x = planted([("sinus", 200), ("af", 100)], fs=360.0)
    true_beats = sum(len(synth_ecg(d, 360.0, 95 if r == "af" else 70, r, seed=i).rpeaks)
                     for i, (r, d) in enumerate([("sinus", 200), ("af", 100)]))
    bspec = ModelSpec("mitdb-aami", ("N", "S", "V", "F", "Q"), 2.5, 0.0, "beat", pp.PreprocessConfig(),
                      pp.ZScore(np.zeros(1), np.ones(1)))
    beat = _Recorder(bspec)
    mon = Monitor(RRRuleClassifier(rule_spec()), MonitorConfig(fs=360.0, block_windows=5), beat_classifier=beat)
    for i in range(0, len(x), 5000):
        mon.push(x[i:i + 5000])
    mon.finish()
    t = np.array([b.time_s for b in mon.beats])
    assert np.all(np.diff(t) > 0.2)  # sorted, no beat twice (blocks own disjoint ranges)
    assert abs(len(t) - true_beats) <= 3  # edge beats without a full 2.5-s window are dropped
    assert sum(len(e) for e in beat.ecg) == len(t) and beat.ecg[0].shape[1:] == (900, 1)


def test_beat_model_with_rr_input_gets_the_streams_rr_features():
    """An RR-input beat model in the monitor: each beat's RR features come from the stream's running
    statistics, the same rows as the whole-record path (tasks.windows.signal_windows) gives."""
    import dataclasses

    x = planted([("sinus", 150), ("af", 90), ("sinus", 60)], fs=360.0)
    mon, beat, whole, i, same_beat = _stream_beats(x, ("ecg", "prior", "rr"), rr_width=10)
    bspec = beat.spec
    rr = np.concatenate(beat.rr)
    assert rr.shape == (len(mon.beats), 10) and whole.rr.shape[1] == 10  # RR features + recent-rhythm context
    assert abs(len(whole.rr) - len(rr)) <= 2
    assert same_beat.mean() > 0.98
    equal = np.all(np.abs(rr[same_beat] - whole.rr[i[same_beat]]) < 1e-6, axis=1)
    assert equal.mean() > 0.97, equal.mean()  # block edges may see the next beat a sample apart
    # the context sees the AF stretch: irregular there, regular in the sinus stretches around it
    t = np.array([b.time_s for b in mon.beats])
    sd = rr[:, len(pp.RR_FEATURE_NAMES)]
    assert np.median(sd[(t > 170) & (t < 230)]) > 3 * np.median(sd[(t > 20) & (t < 140)])
    # a model of the first 8 columns (every model before the context) is fed exactly those
    mon8, beat8, _, _, _ = _stream_beats(x, ("ecg", "prior", "rr"))
    np.testing.assert_array_equal(np.concatenate(beat8.rr), rr[:, :len(pp.RR_FEATURE_NAMES)])
    # a model without the rhythm input is fed no RR features
    plain = _Recorder(dataclasses.replace(bspec, inputs=("ecg", "prior")))
    mon = Monitor(RRRuleClassifier(rule_spec()), MonitorConfig(fs=360.0), beat_classifier=plain)
    mon.push(x[:360 * 60])
    mon.finish()
    assert plain.rr == [] and plain.ecg


def test_beat_model_with_template_input_gets_the_streams_template():
    """A beat-template ("morph") model in the monitor: the template is carried across blocks, so each
    beat's rows equal the whole-record path's (tasks.windows.signal_windows), not a per-block restart."""
    x = planted([("sinus", 120), ("af", 60)], fs=360.0)
    mon, beat, whole, i, same_beat = _stream_beats(x, ("ecg", "prior", "rr", "morph"))
    morph = np.concatenate(beat.morph)
    assert morph.shape == (len(mon.beats), len(pp.TEMPLATE_FEATURE_NAMES)) and len(beat.morph) > 3
    assert same_beat.mean() > 0.98
    equal = np.all(np.abs(morph[same_beat] - whole.morph[i[same_beat]]) < 1e-4, axis=1)
    assert equal.mean() > 0.9, equal.mean()  # a block's first beats differ only if blocks cut windows apart
    # a per-block restart would compare each block's first beat with itself (corr exactly 1, rms 0)
    first_of_block = np.cumsum([len(m) for m in beat.morph])[:-1]
    rms = pp.TEMPLATE_FEATURE_NAMES.index("rms_dev")
    assert np.all(morph[first_of_block, rms] > 0)


def _stream_beats(x: np.ndarray, inputs: tuple[str, ...], rr_width: int = len(pp.RR_FEATURE_NAMES)):
    """Stream ``x`` (360 Hz) in 7000-sample pushes through a monitor with a recording beat model taking
    ``inputs``; returns the monitor, the recorder, the whole-record windows (tasks.windows.signal_windows),
    and for each monitored beat its index in those windows and whether it is the same beat."""
    from ecgnet_tf.runs import ModelSpec
    from ecgnet_tf.tasks import get_task
    from ecgnet_tf.tasks.windows import signal_windows

    bspec = ModelSpec("mitdb-aami", ("N", "S", "V", "F", "Q"), 2.5, 0.0, "beat", pp.PreprocessConfig(),
                      pp.ZScore(np.zeros(1), np.ones(1)), inputs=inputs, rr_width=rr_width)
    beat = _Recorder(bspec)
    mon = Monitor(RRRuleClassifier(rule_spec()), MonitorConfig(fs=360.0, block_windows=5), beat_classifier=beat)
    for i in range(0, len(x), 7000):
        mon.push(x[i:i + 7000])
    mon.finish()
    whole = signal_windows(get_task("mitdb-aami"), "rec", x[:, :1], 360.0, bspec.preprocess, ("MLII",))
    t_whole = whole.start_s + 1.25
    t_mon = np.array([b.time_s for b in mon.beats])
    i = np.searchsorted(t_whole, t_mon - 1e-6)
    same_beat = (i < len(t_whole)) & (np.abs(t_whole[np.minimum(i, len(t_whole) - 1)] - t_mon) < 1e-3)
    return mon, beat, whole, i, same_beat
