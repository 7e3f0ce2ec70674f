"""RR-interval features: values on hand-built rhythms, edge and clipping rules, causality (one beat of
look-ahead), bit-identity of the streaming RRTracker with rr_features, and S-vs-N prematurity on
real MIT-BIH records (skipped when ../shared/data is absent)."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.preprocess import RR_FEATURE_NAMES, RRConfig, RRTracker, rr_features
from ecgnet_tf.synthetic import synth_ecg

FS = 360.0
COL = {name: j for j, name in enumerate(RR_FEATURE_NAMES)}
RATIOS = [COL[c] for c in ("pre_local_ratio", "post_pre_ratio", "pre_running_ratio", "local_running_ratio")]


def beats_from_rr(rr_s: list[float], fs: float = FS, start: int = 100) -> np.ndarray:
    """Beat sample positions with the given intervals (s); every interval must be whole samples."""
    steps = np.asarray(rr_s) * fs
    assert np.allclose(steps, np.round(steps)), "pick intervals that are whole samples"
    return start + np.concatenate([[0], np.cumsum(np.round(steps).astype(np.int64))])


def stream(beats: np.ndarray, fs: float = FS, **kw) -> tuple[np.ndarray, np.ndarray]:
    """Feed beats one by one; checks each push returns the previous beat's row."""
    tr = RRTracker(fs, **kw)
    feats, masks = [], []
    for k, s in enumerate(beats):
        out = tr.push_masked(s)
        assert (out is None) == (k == 0)
        if out is not None:
            feats.append(out[0])
            masks.append(out[1])
            assert tr.n_emitted == k
    last = tr.flush_masked()
    if last is not None:
        feats.append(last[0])
        masks.append(last[1])
    assert tr.n_pushed == 0 and tr.flush() is None  # flush resets
    return np.array(feats, np.float32).reshape(-1, len(RR_FEATURE_NAMES)), np.array(masks, bool).reshape(
        -1, len(RR_FEATURE_NAMES))


def irregular_beats(seed: int, n: int = 300) -> np.ndarray:
    """Irregular rhythm with ectopics, pauses, double detections, dropouts and a duplicate beat."""
    rng = np.random.default_rng(seed)
    rr = rng.uniform(0.4, 1.3, n)
    bad = rng.choice(n, 25, replace=False)
    rr[bad[:8]] = rng.uniform(0.0, 0.14, 8)  # double detections (one may round to 0 samples)
    rr[bad[8:14]] = rng.uniform(3.1, 12.0, 6)  # dropouts
    rr[bad[14:]] = rng.uniform(1.8, 2.9, 11)  # missed beats / pauses, plausible
    rr[3] = 0.0  # two beats at the same sample
    return 50 + np.concatenate([[0], np.cumsum(np.round(rr * FS).astype(np.int64))])


def test_names_shape_dtype_and_config_round_trip():
    assert RR_FEATURE_NAMES == ("pre_rr_s", "post_rr_s", "local_rr_s", "running_rr_s", "pre_local_ratio",
                                "post_pre_ratio", "pre_running_ratio", "local_running_ratio")
    f, m = rr_features(beats_from_rr([0.8] * 20), FS, return_mask=True)
    assert f.shape == m.shape == (21, len(RR_FEATURE_NAMES)) and f.dtype == np.float32 and m.dtype == bool
    cfg = RRConfig(local_beats=5, min_rr_s=0.2, max_rr_s=2.5, default_rr_s=1.0)
    assert cfg.to_dict() == {"local_beats": 5, "min_rr_s": 0.2, "max_rr_s": 2.5, "default_rr_s": 1.0}
    assert RRConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"local_beats": 0}, {"min_rr_s": 0.0}, {"min_rr_s": 3.0}, {"default_rr_s": 5.0}):
        with pytest.raises(ValueError):
            RRConfig(**bad)


def test_regular_rhythm_every_ratio_is_one():
    beats = beats_from_rr([0.8] * 40)
    f, m = rr_features(beats, FS, return_mask=True)
    np.testing.assert_allclose(f[:, COL["pre_rr_s"]], 0.8, rtol=1e-6)
    np.testing.assert_allclose(f[:, COL["post_rr_s"]], 0.8, rtol=1e-6)
    np.testing.assert_allclose(f[:, COL["local_rr_s"]], 0.8, rtol=1e-6)
    np.testing.assert_allclose(f[:, COL["running_rr_s"]], 0.8, rtol=1e-6)
    np.testing.assert_allclose(f[:, RATIOS], 1.0, rtol=1e-6)  # even during warm-up (edge rules)
    # genuine values: pre from beat 1, post up to the second-last beat, baselines once 10 intervals precede
    assert m[1:, COL["pre_rr_s"]].all() and not m[0, COL["pre_rr_s"]]
    assert m[:-1, COL["post_rr_s"]].all() and not m[-1, COL["post_rr_s"]]
    warm = np.arange(len(beats)) < 11  # beat i has i-1 baseline intervals
    assert (m[:, COL["local_rr_s"]] == ~warm).all() and (m[:, COL["pre_local_ratio"]] == ~warm).all()
    assert m[11:-1].all()


def test_ectopic_beat_with_compensatory_pause():
    rr = [0.8] * 12 + [0.5, 1.1] + [0.8] * 5
    f = rr_features(beats_from_rr(rr), FS)
    e = 13  # beat 13 ends the 0.5-s interval (intervals r[1..12] are 0.8)
    assert f[e, COL["pre_rr_s"]] == pytest.approx(0.5, rel=1e-6)
    assert f[e, COL["post_rr_s"]] == pytest.approx(1.1, rel=1e-6)
    assert f[e, COL["local_rr_s"]] == pytest.approx(0.8, rel=1e-6)
    assert f[e, COL["pre_local_ratio"]] == pytest.approx(0.5 / 0.8, rel=1e-6)  # 0.625
    assert f[e, COL["post_pre_ratio"]] == pytest.approx(1.1 / 0.5, rel=1e-6)  # 2.2
    assert f[e, COL["pre_running_ratio"]] == pytest.approx(0.625, rel=1e-6)
    assert f[e, COL["local_running_ratio"]] == pytest.approx(1.0, rel=1e-6)
    # the beat after the pause: its baseline now holds the 0.5-s interval (last 10: nine 0.8 + 0.5)
    local = (9 * 0.8 + 0.5) / 10
    running = (12 * 0.8 + 0.5) / 13
    assert f[e + 1, COL["pre_local_ratio"]] == pytest.approx(1.1 / local, rel=1e-6)
    assert f[e + 1, COL["post_pre_ratio"]] == pytest.approx(0.8 / 1.1, rel=1e-6)
    assert f[e + 1, COL["pre_running_ratio"]] == pytest.approx(1.1 / running, rel=1e-6)
    assert f[e + 1, COL["local_running_ratio"]] == pytest.approx(local / running, rel=1e-6)
    # a smaller local window through the argument (overrides config.local_beats)
    f3 = rr_features(beats_from_rr(rr), FS, local_beats=3)
    local3 = (0.8 + 0.5 + 1.1) / 3
    assert f3[e + 2, COL["local_rr_s"]] == pytest.approx(local3, rel=1e-6)
    assert f3[e + 2, COL["pre_local_ratio"]] == pytest.approx(0.8 / local3, rel=1e-6)


def test_edges_first_and_last_beat_and_short_inputs():
    rr = [0.6, 0.9, 1.2]
    f, m = rr_features(beats_from_rr(rr), FS, return_mask=True)
    # beat 0: no pre-RR and no baseline -> warm-up RR = first plausible interval (look-ahead 1)
    np.testing.assert_allclose(f[0, :4], [0.6, 0.6, 0.6, 0.6], rtol=1e-6)
    np.testing.assert_allclose(f[0, RATIOS], 1.0, rtol=1e-6)
    # beat 1: pre 0.6, baseline still the warm-up RR (0.6), post 0.9
    np.testing.assert_allclose(f[1, :4], [0.6, 0.9, 0.6, 0.6], rtol=1e-6)
    # beat 2: baseline = mean of fewer than local_beats intervals (just r[1] = 0.6)
    np.testing.assert_allclose(f[2, :4], [0.9, 1.2, 0.6, 0.6], rtol=1e-6)
    # last beat: no post-RR -> its local mean, mean(0.6, 0.9)
    np.testing.assert_allclose(f[3, :4], [1.2, 0.75, 0.75, 0.75], rtol=1e-6)
    assert m[:, COL["pre_rr_s"]].tolist() == [False, True, True, True]
    assert m[:, COL["post_rr_s"]].tolist() == [True, True, True, False]
    assert not m[:, COL["local_rr_s"]].any()  # never a full window of 10

    empty = rr_features(np.array([], dtype=np.int64), FS)
    assert empty.shape == (0, len(RR_FEATURE_NAMES))
    one = rr_features(np.array([500]), FS)  # nothing known: every interval is default_rr_s
    np.testing.assert_allclose(one[0], [0.8] * 4 + [1.0] * 4, rtol=1e-6)
    cfg = RRConfig(default_rr_s=1.0)
    np.testing.assert_allclose(rr_features(np.array([500]), FS, config=cfg)[0, :4], 1.0)
    with pytest.raises(ValueError):
        rr_features(np.array([10, 5]), FS)
    with pytest.raises(ValueError):
        rr_features(np.zeros((3, 2)), FS)
    with pytest.raises(ValueError):
        rr_features(np.array([1, 2]), 0.0)


def test_clipping_double_detection_and_missed_beat():
    # double detection 0.05 s after beat 12 -> intervals 0.05 then 0.75
    rr = [0.8] * 12 + [0.05, 0.75] + [0.8] * 12
    f, m = rr_features(beats_from_rr(rr), FS, return_mask=True)
    d = 13
    assert f[d, COL["pre_rr_s"]] == pytest.approx(0.15, rel=1e-6)  # clipped to min_rr_s
    assert not m[d, COL["pre_rr_s"]] and not m[d, COL["pre_local_ratio"]]
    assert f[d, COL["pre_local_ratio"]] == pytest.approx(0.15 / 0.8, rel=1e-6)
    assert f[d, COL["post_pre_ratio"]] == pytest.approx(0.75 / 0.15, rel=1e-6)  # 5, not 15
    assert f[d - 1, COL["post_rr_s"]] == pytest.approx(0.15, rel=1e-6) and not m[d - 1, COL["post_rr_s"]]
    # the 0.05-s interval never enters the baseline; the 0.75-s one (plausible) does
    assert f[d + 1, COL["local_rr_s"]] == pytest.approx(0.8, rel=1e-6)
    assert f[d + 2, COL["local_rr_s"]] == pytest.approx((9 * 0.8 + 0.75) / 10, rel=1e-6)
    assert f[d + 2, COL["running_rr_s"]] == pytest.approx((12 * 0.8 + 0.75) / 13, rel=1e-6)
    assert np.all(f[:, RATIOS] <= 3.0 / 0.15) and np.all(f[:, RATIOS] >= 0.15 / 3.0)

    # missed beat: a 2.4-s interval is plausible: reported as is and enters the baseline
    rr = [0.8] * 12 + [2.4] + [0.8] * 12
    f, m = rr_features(beats_from_rr(rr), FS, return_mask=True)
    p = 13
    assert f[p, COL["pre_rr_s"]] == pytest.approx(2.4, rel=1e-6) and m[p, COL["pre_rr_s"]]
    assert f[p, COL["pre_local_ratio"]] == pytest.approx(3.0, rel=1e-6)
    assert f[p, COL["post_pre_ratio"]] == pytest.approx(0.8 / 2.4, rel=1e-6)
    assert f[p + 1, COL["local_rr_s"]] == pytest.approx((9 * 0.8 + 2.4) / 10, rel=1e-6)
    assert f[p + 11, COL["local_rr_s"]] == pytest.approx(0.8, rel=1e-6)  # out of the window again

    # a 5-s dropout is implausible: clipped to max_rr_s and kept out of the baseline
    rr = [0.8] * 12 + [5.0] + [0.8] * 12
    f, m = rr_features(beats_from_rr(rr), FS, return_mask=True)
    assert f[p, COL["pre_rr_s"]] == pytest.approx(3.0, rel=1e-6) and not m[p, COL["pre_rr_s"]]
    assert f[p, COL["pre_local_ratio"]] == pytest.approx(3.0 / 0.8, rel=1e-6)
    assert f[p + 1, COL["local_rr_s"]] == pytest.approx(0.8, rel=1e-6)
    assert f[p + 1, COL["running_rr_s"]] == pytest.approx(0.8, rel=1e-6)

    # implausible first intervals: the warm-up RR is the default until a plausible one is known
    # (beat 2 sees r[3] = 0.7 through its one-beat look-ahead)
    f = rr_features(beats_from_rr([0.05, 0.05, 0.7, 0.7]), FS)
    np.testing.assert_allclose(f[:, COL["local_rr_s"]], [0.8, 0.8, 0.7, 0.7, 0.7], rtol=1e-6)
    np.testing.assert_allclose(f[:, COL["pre_rr_s"]], [0.8, 0.15, 0.15, 0.7, 0.7], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_causal_one_beat_lookahead(seed):
    beats = irregular_beats(seed)
    full = rr_features(beats, FS)
    rng = np.random.default_rng(100 + seed)
    for i in list(rng.choice(len(beats) - 2, 25, replace=False)) + [0, 1, len(beats) - 3]:
        # truncating after beat i+1 leaves rows 0..i unchanged (bit for bit)
        assert np.array_equal(rr_features(beats[: i + 2], FS)[: i + 1], full[: i + 1])
        # so does changing every beat after i+1 (shifting and jittering the future)
        future = beats[i + 2:] + rng.integers(0, 400) + np.cumsum(rng.integers(0, 200, len(beats) - i - 2))
        changed = np.concatenate([beats[: i + 2], future])
        assert np.array_equal(rr_features(changed, FS)[: i + 1], full[: i + 1])
        # but beat i+1 itself is look-ahead: moving it changes beat i's post-RR (unless clipped)
        moved = beats.copy()
        moved[i + 1:] += 36  # +0.1 s
        if 0.15 <= (beats[i + 1] - beats[i]) / FS <= 2.9:
            assert rr_features(moved, FS)[i, COL["post_rr_s"]] == pytest.approx(
                full[i, COL["post_rr_s"]] + 0.1, rel=1e-5)


@pytest.mark.parametrize("local_beats", [1, 3, 10])
@pytest.mark.parametrize("seed", [0, 1])
def test_tracker_is_bit_identical_to_rr_features(seed, local_beats):
    beats = irregular_beats(seed)
    f, m = rr_features(beats, FS, local_beats=local_beats, return_mask=True)
    fs_, ms_ = stream(beats, local_beats=local_beats)
    assert np.array_equal(fs_, f) and np.array_equal(ms_, m)
    for n in (0, 1, 2, 3, 12):  # short streams: edges agree as well
        f, m = rr_features(beats[:n], FS, local_beats=local_beats, return_mask=True)
        fs_, ms_ = stream(beats[:n], local_beats=local_beats)
        assert np.array_equal(fs_, f) and np.array_equal(ms_, m)


def test_tracker_on_synthetic_ecg_and_input_checks():
    ecg = synth_ecg(duration_s=120.0, fs=250.0, hr_bpm=75.0, seed=3)  # sinus, 3% RR jitter
    f = rr_features(ecg.rpeaks, ecg.fs)
    assert np.array_equal(stream(ecg.rpeaks, fs=ecg.fs)[0], f)
    assert np.all(np.abs(f[11:-1, COL["pre_local_ratio"]] - 1.0) < 0.15)
    tr = RRTracker(FS)
    tr.push(1000)
    with pytest.raises(ValueError):
        tr.push(999)
    assert tr.push(1288) is not None  # a refused beat leaves the tracker usable
    with pytest.raises(ValueError):
        RRTracker(0.0)


@pytest.mark.realdata
@pytest.mark.parametrize("record, s_max, n_min", [("209", 0.92, 0.98), ("232", 0.80, 1.5)])
def test_supraventricular_beats_are_early_on_mitbih(shared_data, record, s_max, n_min):
    """S beats have a clearly lower pre/local ratio than N beats (reference annotations).

    Measured (default config): 209 S 0.879 vs N 1.019; 232 S 0.771 vs N 2.114 (232's N beats mostly
    end long sinus pauses, so their ratio is far above 1)."""
    from ecgnet_tf.data.mitdb import load_record

    rec = load_record(shared_data, record)
    f = rr_features(rec.beat_samples, rec.fs)
    ratio = f[:, COL["pre_local_ratio"]]
    s_mean = float(ratio[rec.beat_classes == "S"].mean())
    n_mean = float(ratio[rec.beat_classes == "N"].mean())
    assert s_mean < s_max < n_min < n_mean, (s_mean, n_mean)
    assert n_mean - s_mean > 0.1
    assert np.array_equal(stream(rec.beat_samples, fs=rec.fs)[0], f)
