"""Beat windows, fixed segments, z-score normalisation and prior maps."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet_tf.preprocess import J_POINT_S, ZScore, beat_windows, fixed_segments, prior_map

FS = 360.0


def test_beat_windows_shapes_centre_and_dropped_edges():
    n = 20000
    x = np.stack([np.arange(n, dtype=float), -np.arange(n, dtype=float)], axis=1)
    r = np.array([100, 450, 5000, 10000, 19900])
    win, kept = beat_windows(x, r, FS, window_s=2.5)
    assert win.shape == (3, 900, 2) and win.dtype == np.float32
    np.testing.assert_array_equal(kept, [1, 2, 3])
    np.testing.assert_array_equal(r[kept], [450, 5000, 10000])
    np.testing.assert_array_equal(win[:, 450, 0], [450, 5000, 10000])   # R peak at index W // 2
    np.testing.assert_array_equal(win[:, 450, 1], [-450, -5000, -10000])
    w1, k1 = beat_windows(x[:, 0], r, FS)
    assert w1.shape == (3, 900, 1) and np.array_equal(k1, kept)
    w0, k0 = beat_windows(x, np.array([10]), FS)
    assert w0.shape == (0, 900, 2) and k0.size == 0


def test_fixed_segments_overlap_and_rpeak_bookkeeping():
    n = int(35 * FS)
    x = np.arange(n, dtype=float)
    r = np.arange(100, n, 300)
    seg = fixed_segments(x, r, FS, segment_s=10.0, overlap=0.5)
    assert seg.windows.shape == (6, 3600, 1)
    np.testing.assert_array_equal(seg.starts, [0, 1800, 3600, 5400, 7200, 9000])
    assert seg.padded == 0
    for w, s, rel in zip(seg.windows, seg.starts, seg.rpeaks):
        assert w[0, 0] == s
        expected = r[(r >= s) & (r < s + 3600)] - s
        np.testing.assert_array_equal(rel, expected)
        assert np.all(w[rel, 0] == r[(r >= s) & (r < s + 3600)])
    seg0 = fixed_segments(x, r, FS, segment_s=10.0, overlap=0.0)
    np.testing.assert_array_equal(seg0.starts, [0, 3600, 7200])


def test_short_record_is_zero_padded_to_one_segment():
    x = np.ones((1000, 2))
    seg = fixed_segments(x, np.array([200, 700]), FS, segment_s=10.0)
    assert seg.windows.shape == (1, 3600, 2) and seg.padded == 2600
    assert np.all(seg.windows[0, 1000:] == 0) and np.all(seg.windows[0, :1000] == 1)
    np.testing.assert_array_equal(seg.rpeaks[0], [200, 700])
    with pytest.raises(ValueError):
        fixed_segments(x, None, FS, overlap=1.0)


def test_zscore_train_only_and_roundtrip():
    rng = np.random.default_rng(0)
    x = rng.normal([1.0, -2.0], [2.0, 0.5], size=(50, 100, 2))
    for bad in ("test", "val", "validation", "TRAIN"):
        with pytest.raises(ValueError):
            ZScore.fit(x, partition=bad)
    z = ZScore.fit(x, partition="train")
    y = z.transform(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.reshape(-1, 2).mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.reshape(-1, 2).std(axis=0), 1, atol=1e-4)
    z2 = ZScore.from_dict(json.loads(json.dumps(z.to_dict())))
    np.testing.assert_allclose(z2.transform(x[:3]), y[:3])
    z3 = ZScore.fit(x.reshape(-1, 2), partition="train")
    np.testing.assert_allclose(z3.mean, z.mean)
    with pytest.raises(ValueError):
        z.transform(np.zeros((10, 3)))


def test_prior_map_mi_zones():
    r = np.array([1000, 2000])
    p = prior_map(r, 3600, FS, "mi", taper_s=0.0)
    assert p.shape == (3600,) and p.dtype == np.float32
    assert set(np.unique(p)) == {0.0, 1.0}
    for rp in r:
        assert np.all(p[rp - 18:rp + 19] == 1)                       # QRS +-50 ms
        st_a, st_b = rp + round((J_POINT_S + 0.06) * FS), rp + round((J_POINT_S + 0.12) * FS)
        assert np.all(p[st_a:st_b + 1] == 1)                          # ST-T 60-120 ms after J
        assert np.all(p[rp + 19:st_a] == 0)                          # gap between QRS and ST zone
        assert p[rp - 20] == 0 and p[st_b + 2] == 0
    assert p.sum() == 2 * ((18 * 2 + 1) + (st_b - st_a + 1))


def test_prior_map_af_beat_none_and_taper():
    r = np.array([500])
    af = prior_map(r, 1000, FS, "af", taper_s=0.0)
    np.testing.assert_array_equal(np.flatnonzero(af), np.arange(536, 609))   # 100..300 ms after R
    beat = prior_map(None, 900, FS, "beat")
    assert beat[450] == pytest.approx(1.0) and beat[0] == 0.0 and beat.max() <= 1.0 and beat.min() >= 0.0
    np.testing.assert_allclose(beat, prior_map(np.array([450]), 900, FS, "beat"))
    soft = prior_map(r, 1000, FS, "af")
    assert 0 < soft[536] < 1 and soft[570] == pytest.approx(1.0) and soft[400] == 0
    np.testing.assert_array_equal(prior_map(r, 10, FS, "none"), np.ones(10, np.float32))
    with pytest.raises(ValueError):
        prior_map(r, 10, FS, "st")
    # beats near the edges are clipped, not wrapped
    edge = prior_map(np.array([995]), 1000, FS, "mi", taper_s=0.0)
    assert edge[-1] == 1 and edge[977] == 1 and edge[976] == 0 and not edge[:100].any()
    assert prior_map(np.array([5]), 1000, FS, "mi", taper_s=0.0)[0] == 1
