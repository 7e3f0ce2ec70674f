"""The monitor's context model: a record model on the last context_s seconds of the stream decides AF."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf import preprocess as pp
from ecgnet_tf.monitor.config import MonitorConfig
from ecgnet_tf.monitor.context import ContextModel, ContextWindow, RhythmContext, context_inputs
from ecgnet_tf.monitor.monitor import Monitor
from ecgnet_tf.monitor.smoothing import AFSmoothing
from ecgnet_tf.preprocess.record_features import RECORD_FEATURE_NAMES
from ecgnet_tf.runs import ModelSpec
from ecgnet_tf.synthetic import synth_ecg
from ecgnet_tf.training.record_model import RecordModel

FS = 250.0
CLASSES = ("N", "A", "O", "~")


class _AlwaysN:
    """A window network that always says N (so any AF decision comes from the context model)."""

    def __init__(self):
        self.spec = ModelSpec("always-n", CLASSES, 10.0, 0.5, "af", pp.PreprocessConfig(),
                              pp.ZScore(np.zeros(1), np.ones(1)))

    def predict(self, ecg, prior):
        out = np.zeros((len(ecg), 4))
        out[:, 0] = 1.0
        return out

    def predict_feed(self, feed):
        return self.predict(feed["ecg"], feed["prior"])


def _cv_record_model() -> RecordModel:
    """Trees that call a stretch AF exactly when its RR coefficient of variation exceeds 0.12."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    col = RECORD_FEATURE_NAMES.index("rr_cv_rr")
    x = np.zeros((400, len(RECORD_FEATURE_NAMES)))
    x[:, col] = rng.uniform(0.0, 0.3, 400)
    y = np.where(x[:, col] > 0.12, 1, 0)
    y[:4] = [2, 3, 2, 3]  # every class seen, as in a real fit, on rows no real stretch resembles
    x[:4, RECORD_FEATURE_NAMES.index("duration_s")] = -1.0
    trees = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(x, y)
    return RecordModel(CLASSES, "record", trees)


def _stream(first: str, second: str, seconds: float = 80.0) -> np.ndarray:
    a = synth_ecg(seconds, FS, 75, first, seed=1).signal
    b = synth_ecg(seconds, FS, 75, second, seed=2).signal
    return np.concatenate([a, b])


def _run(x: np.ndarray, context: ContextModel | None, chunk: int = 3_000) -> Monitor:
    mon = Monitor(_AlwaysN(), MonitorConfig(fs=FS, context=context, use_quality_gate=False))
    for a in range(0, len(x), chunk):
        mon.push(x[a:a + chunk])
    mon.finish()
    return mon


def test_context_model_decides_sinus_then_af():
    ctx = ContextModel(_cv_record_model(), context_s=30.0)
    mon = _run(_stream("sinus", "af"), ctx)
    ok = [w for w in mon.windows if w.ok]
    assert all(w.context_probs is not None and w.probs[0] == 1.0 for w in ok)
    early = [w.label for w in ok if w.end_s <= 70]
    late = [w.label for w in ok if w.start_s >= 80 + 30]  # the context is all AF by then
    assert early and set(early) == {"N"}
    assert late and set(late) == {"AF"}
    assert any(e.label == "AF" for e in mon.episodes)
    without = _run(_stream("sinus", "af"), None)
    assert {w.label for w in without.windows if w.ok} == {"N"} and all(w.context_probs is None for w in without.windows)


def test_context_model_never_reads_past_the_block_margin():
    """A window's context decision does not change when the stream after it changes (beyond the
    preprocessing margin, as for the network's own windows)."""
    ctx = ContextModel(_cv_record_model(), context_s=30.0)
    a, b = _run(_stream("sinus", "af"), ctx), _run(_stream("sinus", "sinus"), ctx)
    margin = MonitorConfig(fs=FS).margin_s
    for wa, wb in zip(a.windows, b.windows):
        if wa.end_s + margin < 80:
            assert wa.context_probs == wb.context_probs
    assert any(wa.context_probs != wb.context_probs for wa, wb in zip(a.windows, b.windows))


def test_chunk_size_does_not_change_the_decisions():
    ctx = ContextModel(_cv_record_model(), context_s=30.0)
    x = _stream("af", "sinus", 60.0)
    small, big = _run(x, ctx, 1_000), _run(x, ctx, 50_000)
    assert [w.label for w in small.windows] == [w.label for w in big.windows]
    np.testing.assert_allclose([w.context_probs for w in small.windows], [w.context_probs for w in big.windows])


def test_rhythm_context_joins_blocks_without_duplicates_and_keeps_context_s():
    fs = 100.0
    ctx = RhythmContext(fs, context_s=5.0)
    sig = np.arange(2_000, dtype=np.float32)
    peaks = np.arange(50, 2_000, 80)
    # two overlapping chunks; the second sees the boundary beat one sample later
    ctx.extend(sig[0:1_200], 0, peaks[peaks < 1_200], upto=1_000)
    second = np.where((peaks >= 800) & (peaks < 2_000), peaks + 1, -1)
    ctx.extend(sig[800:2_000], 800, second[second >= 0] - 800, upto=1_600)
    x, p, _ = ctx.stretch(1_600)
    np.testing.assert_array_equal(x, sig[1_100:1_600])  # the last 5 s, each sample once
    got = p + 1_100
    assert np.all(np.diff(got) >= 0.2 * fs)  # no beat twice
    assert ctx.end == 1_600
    ctx.add_window(ContextWindow(1_100, 1_600, np.zeros(3), None))
    ctx.add_window(ContextWindow(500, 1_000, np.zeros(3), None))  # already outside the context: dropped
    assert [w.start for w in ctx.stretch(1_600)[2]] == [1_100]
    ctx.extend(sig[1_800:], 1_800, np.array([10]), upto=2_000)  # a gap restarts the context
    x, p, wins = ctx.stretch(2_000)
    np.testing.assert_array_equal(x, sig[1_800:2_000])
    assert list(p) == [10] and wins == []


def test_context_inputs_shapes_and_empty_windows():
    x = synth_ecg(30.0, 360.0, 70, "sinus", seed=0).signal[:, 0]
    peaks = pp.detect_rpeaks(x[:, None], 360.0)
    n_rr = len(pp.RHYTHM_FEATURE_NAMES)
    got = context_inputs(x, peaks, 360.0, [], n_rr, 4)
    assert got.features.shape == (1, len(RECORD_FEATURE_NAMES))
    assert got.windows.shape == (1, 4 * n_rr) and got.network.shape == (1, 16)
    np.testing.assert_allclose(got.network[0, :4], 0.25)  # no predicted window: uniform stand-in


def test_af_smoothing_context_round_trip_and_validation():
    sm = AFSmoothing(2, 0.5, 1, 2, context_s=30.0)
    assert AFSmoothing.from_dict(sm.to_dict()) == sm
    assert AFSmoothing.from_dict({"smooth_windows": 1}).context_s is None  # older files: network decisions
    with pytest.raises(ValueError, match="context_s"):
        AFSmoothing(context_s=0.0)


def test_run_context_needs_the_record_model(tmp_path):
    from ecgnet_tf.monitor.batch import run_context

    assert run_context(tmp_path, None, AFSmoothing()) is None
    with pytest.raises(FileNotFoundError, match="record model"):
        run_context(tmp_path, None, AFSmoothing(context_s=30.0))


def test_windows_csv_has_the_context_probabilities(tmp_path):
    import csv

    from ecgnet_tf.monitor.report import write_tables

    mon = _run(_stream("sinus", "af", 40.0), ContextModel(_cv_record_model(), context_s=30.0))
    write_tables(mon, {"episodes": []}, tmp_path)
    from ecgnet_tf.monitor.report import build_report

    assert build_report(mon, None)["monitor_config"]["af_decisions"] == {"smoothing": None, "context_s": 30.0}
    rows = list(csv.DictReader(open(tmp_path / "windows.csv")))
    assert len(rows) == len(mon.windows) and "context_p_A" in rows[0]
    ok = [(r, w) for r, w in zip(rows, mon.windows) if w.ok]
    assert ok and all(abs(float(r["context_p_A"]) - w.context_probs[1]) < 1e-4 for r, w in ok)


def test_validation_contexts_span_record_boundaries_like_a_stream():
    from ecgnet_tf.monitor.context_fit import stream_context_inputs

    fs = 360.0
    spec = _AlwaysN().spec
    recs = []
    for rhythm, seed in (("sinus", 0), ("af", 1)):
        x = synth_ecg(30.0, fs, 75, rhythm, seed=seed).signal[:, 0]
        recs.append((x, pp.detect_rpeaks(x[:, None], fs), np.full((5, 4), 0.25)))  # 10-s windows, 5-s hop
    dur = RECORD_FEATURE_NAMES.index("duration_s")
    joined = stream_context_inputs(recs, fs, spec, 15.0)
    alone = stream_context_inputs(recs[1:], fs, spec, 15.0)
    assert len(joined) == 10 and len(alone) == 5
    assert joined[5].features[0, dur] == pytest.approx(15.0)  # the 2nd record's first window sees the 1st's tail
    assert alone[0].features[0, dur] == pytest.approx(10.0)
    # once the context lies inside the 2nd record, joining changes nothing
    np.testing.assert_allclose(joined[9].features, alone[4].features, rtol=1e-5)
    with pytest.raises(ValueError, match="window predictions"):
        stream_context_inputs([(recs[0][0], recs[0][1], np.zeros((3, 4)))], fs, spec, 15.0)


def test_network_only_reads_the_network_alternative(tmp_path):
    from ecgnet_tf.monitor.smoothing import load_smoothing, save_smoothing

    net = AFSmoothing(2, 0.5, 0, 1)
    save_smoothing(tmp_path, AFSmoothing(1, 0.8, 1, 1, context_s=15.0),
                   {"alternatives": {"network": {"smoothing": net.to_dict()}}})
    assert load_smoothing(tmp_path).context_s == 15.0
    assert load_smoothing(tmp_path, network_only=True) == net
    save_smoothing(tmp_path, net, {})
    assert load_smoothing(tmp_path, network_only=True) == net  # already the network's
