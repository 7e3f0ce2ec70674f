"""Recent-rhythm context of each beat: zeros in warm-up, higher in an irregular rhythm, causal, and the
streaming tracker equal to the whole-record function."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf import preprocess as pp
from ecgnet_tf.tasks.inputs import BEAT_RR_NAMES, beat_rr_rows


def test_regular_rhythm_has_zero_context_and_warm_up_is_zero():
    ctx = pp.rr_context(np.full(30, 0.8))
    assert ctx.shape == (30, 2) and ctx.dtype == np.float32
    np.testing.assert_allclose(ctx, 0.0, atol=1e-6)
    irregular = np.random.default_rng(0).uniform(0.4, 1.2, 30)
    c = pp.rr_context(irregular)
    assert np.all(c[:3] == 0) and np.all(c[3:] > 0)  # fewer than min_history previous beats: zeros


def test_values_on_a_known_history():
    pre = np.array([1.0, 0.5, 1.0, 0.5, 0.9])
    c = pp.rr_context(pre, pp.RRContextConfig(history=4, min_history=2))
    h = pre[:4]  # the fifth beat's context: the four beats before it, never its own interval
    np.testing.assert_allclose(c[4], [np.std(h) / np.mean(h), np.mean(np.abs(np.diff(h))) / np.mean(h)], rtol=1e-6)
    np.testing.assert_allclose(c[2], [0.25 / 0.75, 0.5 / 0.75], rtol=1e-6)  # history [1.0, 0.5]


def test_a_premature_beat_does_not_make_its_own_rhythm_irregular_and_later_beats_do_not_change_it():
    pre = np.full(25, 0.8)
    pre[15] = 0.45  # an early beat
    c = pp.rr_context(pre)
    assert c[15, 0] == 0 and c[16, 0] > 0  # its own interval enters only the following beats' context
    changed = pre.copy()
    changed[18:] = np.linspace(0.3, 1.5, 7)
    np.testing.assert_array_equal(pp.rr_context(changed)[:19], c[:19])  # causal: beats <= i only


def test_tracker_equals_the_record_function_and_rejects_bad_input():
    pre = np.random.default_rng(1).uniform(0.3, 1.5, 200)
    tr = pp.RRContextTracker()
    np.testing.assert_array_equal(np.stack([tr.push(v) for v in pre]), pp.rr_context(pre))
    with pytest.raises(ValueError, match="pre-RR"):
        tr.push(float("nan"))
    with pytest.raises(ValueError, match="history"):
        pp.RRContextConfig(history=1)
    with pytest.raises(ValueError, match="1-D"):
        pp.rr_context(np.zeros((3, 2)))
    assert pp.rr_context(np.zeros(0)).shape == (0, 2)


def test_beat_rows_join_rr_features_and_context_and_af_reads_irregular():
    fs = 360.0
    rng = np.random.default_rng(2)
    sinus = np.cumsum(np.full(60, 0.8))
    af = sinus[-1] + np.cumsum(rng.uniform(0.35, 1.1, 60))
    beats = np.round(np.concatenate([sinus, af]) * fs).astype(np.int64)
    rows = beat_rr_rows(beats, fs)
    assert rows.shape == (120, len(BEAT_RR_NAMES)) == (120, 10)
    np.testing.assert_array_equal(rows[:, :8], pp.rr_features(beats, fs))
    np.testing.assert_array_equal(rows[:, 8:], pp.rr_context(rows[:, 0]))
    sd = rows[:, BEAT_RR_NAMES.index("recent_sd_ratio")]
    assert sd[20:58].max() < 0.01 < 0.1 < np.median(sd[75:])
    assert beat_rr_rows(np.zeros(0, np.int64), fs).shape == (0, 10)
