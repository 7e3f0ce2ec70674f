"""Filters, baseline removal and resampling of ecgnet_tf.preprocess (synthetic signals only)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from ecgnet_tf.preprocess import (CONVENTIONAL_BAND_HZ, bandpass, effective_band, estimate_baseline_kalman,
                                  hf_power_retained, kalman_lambda, notch, rational_ratio, remove_baseline_highpass,
                                  remove_baseline_kalman, remove_baseline_median, resample_indices, resample_signal)

FS = 360.0


def _tone(f_hz: float, seconds: float = 20.0, fs: float = FS) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return np.sin(2 * np.pi * f_hz * t)


def _gain(y: np.ndarray, x: np.ndarray) -> float:
    mid = slice(len(x) // 4, 3 * len(x) // 4)
    return float(np.std(y[mid]) / np.std(x[mid]))


@pytest.mark.parametrize("f_hz, lo, hi", [(10.0, 0.97, 1.01), (100.0, 0.95, 1.01)])
def test_wide_band_keeps_10_and_100_hz(f_hz, lo, hi):
    x = _tone(f_hz)
    assert lo < _gain(bandpass(x, FS, 0.5, 150.0), x) < hi


def test_conventional_band_attenuates_100_hz_but_keeps_10_hz():
    x100, x10 = _tone(100.0), _tone(10.0)
    assert _gain(bandpass(x100, FS, *CONVENTIONAL_BAND_HZ), x100) < 0.01
    assert _gain(bandpass(x10, FS, *CONVENTIONAL_BAND_HZ), x10) > 0.97


def test_bandpass_is_zero_phase_and_handles_leads():
    n = int(10 * FS)
    t = np.arange(n)
    pulse = np.exp(-0.5 * ((t - 1800) / 4.0) ** 2)
    x = np.stack([pulse, -2 * pulse], axis=1)
    y = bandpass(x, FS, 0.5, 40.0)
    assert y.shape == x.shape
    assert int(np.argmax(y[:, 0])) == 1800
    assert int(np.argmin(y[:, 1])) == 1800
    np.testing.assert_allclose(y[:, 1], -2 * y[:, 0], atol=1e-9)


def test_upper_edge_clipped_below_nyquist_for_low_rate_data():
    assert effective_band(100.0, 0.5, 150.0) == (0.5, 45.0)
    assert effective_band(500.0, 0.5, 150.0) == (0.5, 150.0)
    x = _tone(10.0, fs=100.0)
    y = bandpass(x, 100.0, 0.5, 150.0)
    assert np.all(np.isfinite(y)) and 0.97 < _gain(y, x) < 1.01


def test_notch_removes_mains_keeps_ecg_band():
    x50, x10 = _tone(50.0), _tone(10.0)
    assert _gain(notch(x50, FS, 50.0), x50) < 0.05
    assert _gain(notch(x10, FS, 50.0), x10) > 0.99
    assert _gain(notch(_tone(60.0), FS, 60.0), _tone(60.0)) < 0.05


def test_hf_power_retained_white_noise():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(int(60 * FS))
    wide = hf_power_retained(x, bandpass(x, FS, 0.5, 150.0), FS)
    conv = hf_power_retained(x, bandpass(x, FS, *CONVENTIONAL_BAND_HZ), FS)
    assert 0.75 < wide < 1.0
    assert conv < 0.01


def test_kalman_removes_02hz_drift_keeps_10hz():
    drift, ecg = 2.0 * _tone(0.2, 60.0), 0.5 * _tone(10.0, 60.0)
    y = remove_baseline_kalman(drift + ecg, FS)
    mid = slice(int(5 * FS), int(55 * FS))
    assert np.max(np.abs(y[mid] - ecg[mid])) < 0.02
    # edges too (reflection padding + steady-state initial conditions)
    assert np.max(np.abs(y - ecg)) < 0.1


def test_kalman_gain_is_half_at_cutoff_and_tuned_for_respiratory_drift():
    g = {f: _gain(remove_baseline_kalman(_tone(f, 120.0), FS), _tone(f, 120.0)) for f in (0.15, 0.3, 0.5, 0.8, 3.0)}
    assert g[0.15] < 0.005 and g[0.3] < 0.03 and g[0.5] < 0.15
    assert abs(g[0.8] - 0.5) < 0.01
    assert g[3.0] > 0.99


def test_kalman_matches_time_varying_rts_smoother():
    """The LTI implementation equals a textbook Kalman filter + RTS smoother once it is in steady state."""
    rng = np.random.default_rng(1)
    fs, n = 100.0, 3000
    x = np.cumsum(rng.standard_normal(n)) * 0.05 + rng.standard_normal(n)
    lam = kalman_lambda(0.8, fs, "irw")
    F = np.array([[1.0, 1.0], [0.0, 1.0]])
    Q = np.diag([0.0, 1.0])
    H = np.array([[1.0, 0.0]])
    m, P = np.array([x[0], 0.0]), np.eye(2) * 1e6
    ms, Ps, mp, Pp = [], [], [], []
    for t in range(n):
        if t:
            m, P = F @ m, F @ P @ F.T + Q
        mp.append(m.copy()); Pp.append(P.copy())
        S = (H @ P @ H.T)[0, 0] + lam
        K = (P @ H.T)[:, 0] / S
        m = m + K * (x[t] - m[0])
        P = P - np.outer(K, H @ P)
        ms.append(m.copy()); Ps.append(P.copy())
    sm = ms[-1]
    out = np.zeros(n)
    out[-1] = sm[0]
    for t in range(n - 2, -1, -1):
        C = Ps[t] @ F.T @ np.linalg.inv(Pp[t + 1])
        sm = ms[t] + C @ (sm - mp[t + 1])
        out[t] = sm[0]
    b = estimate_baseline_kalman(x, fs, cutoff_hz=0.8, model="irw")
    mid = slice(800, n - 800)
    np.testing.assert_allclose(b[mid], out[mid], atol=1e-3 * np.std(x))


def test_kalman_vectorised_over_leads_and_fast():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((int(30 * 60 * FS), 2))
    t0 = time.process_time()
    y = remove_baseline_kalman(x, FS)
    assert time.process_time() - t0 < 3.0
    assert y.shape == x.shape
    np.testing.assert_allclose(remove_baseline_kalman(x[:20000], FS)[:, 1], remove_baseline_kalman(x[:20000, 1], FS),
                               atol=1e-12)


def test_random_walk_model_and_bad_model():
    drift, ecg = _tone(0.1, 60.0), 0.5 * _tone(10.0, 60.0)
    y = remove_baseline_kalman(drift + ecg, FS, cutoff_hz=0.8, model="rw")
    assert np.max(np.abs(y[3000:-3000] - ecg[3000:-3000])) < 0.05
    with pytest.raises(ValueError):
        remove_baseline_kalman(ecg, FS, model="spline")


@pytest.mark.parametrize("fn", [remove_baseline_median, remove_baseline_highpass])
def test_other_baseline_methods_remove_drift(fn):
    drift, ecg = 2.0 * _tone(0.2, 60.0), 0.5 * _tone(10.0, 60.0)
    y = fn(np.stack([drift + ecg, drift], axis=1), FS)
    mid = slice(int(5 * FS), int(55 * FS))
    assert np.max(np.abs(y[mid, 1])) < 0.08   # pure drift -> ~0
    assert np.max(np.abs(y[mid, 0] - ecg[mid])) < 0.12


def test_resample_round_trip_and_shapes():
    fs = 100.0
    t = np.arange(1000) / fs
    x = np.sin(2 * np.pi * 3 * t) + 0.5 * np.sin(2 * np.pi * 11 * t)
    up = resample_signal(x, fs, 360.0)
    assert up.shape == (3600,)
    back = resample_signal(up, 360.0, fs)
    assert back.shape == x.shape
    assert np.max(np.abs(back - x)[50:-50]) < 0.01
    for f in (250, 300, 500, 1000):
        assert resample_signal(np.zeros((f * 10, 3)), f, 360.0).shape == (3600, 3)
    assert rational_ratio(250, 360) == (36, 25)


def test_resample_keeps_peak_positions():
    fs_in = 500.0
    n = int(10 * fs_in)
    x = np.zeros(n)
    peaks = np.array([1000, 2345, 4000])
    t = np.arange(n)
    for p in peaks:
        x += np.exp(-0.5 * ((t - p) / 5.0) ** 2)
    y = resample_signal(x, fs_in, 360.0)
    mapped = resample_indices(peaks, fs_in, 360.0)
    for m in mapped:
        assert abs(int(np.argmax(y[m - 20:m + 21])) - 20) <= 1
    np.testing.assert_array_equal(resample_indices(np.array([0, 100, 250]), 100.0, 360.0), [0, 360, 900])
    assert resample_indices(np.array([7]), 360.0, 100.0).dtype == np.int64


@pytest.mark.parametrize("fs", [1000.0, 1024.0])
def test_kalman_works_at_holter_rates(fs):
    """1000 and 1024 Hz used to fail in scipy's DARE solver ("Reordering of (A, B) failed")."""
    x = _tone(0.8, 60.0, fs)
    y = remove_baseline_kalman(x, fs)
    assert np.all(np.isfinite(y))
    assert abs(_gain(y, x) - 0.5) < 0.01
