"""Kalman/RTS baseline removal at any sampling rate (1000 / 1024 Hz Holter data used to fail in the
DARE solver), checked against 50-digit references and a plain loop implementation, and the analyze
command end to end on a 1000 Hz recording."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import signal as sps

from ecgnet_tf.analyze import main
from ecgnet_tf.preprocess import estimate_baseline_kalman, kalman_lambda, remove_baseline_kalman
from ecgnet_tf.preprocess.baseline import _steady_state_gain, _steady_state_smoother
from ecgnet_tf.synthetic import synth_ecg

#: Steady-state predicted covariance P- of the baseline Kalman filter (q = 1, r = kalman_lambda(0.8, fs,
#: model)): (P11, P12, P22) for "irw", (P,) for "rw". Generated independently of the code under test
#: by iterating the Riccati recursion  P <- F (P - P H' H P / (P11 + r)) F' + Q  in 50-digit
#: ``decimal`` arithmetic from P = I until no entry changed by more than 1e-30 (relative); r entered
#: as the exact value of the float64 ``kalman_lambda``.
P_REF = {
    (50, "irw"): (1.49825111037364416522e+3, 1.06325731060544475173e+2, 1.50911432766966190992e+1),
    (100, "irw"): (1.15455834686459182735e+4, 4.10192663031504901969e+2, 2.91467332529035464529e+1),
    (250, "irw"): (1.76499634967142962836e+5, 2.50916603332785472386e+3, 7.13419513188033905650e+1),
    (360, "irw"): (5.24713118342664139927e+5, 5.18036270043463888539e+3, 1.02288876606775053703e+2),
    (500, "irw"): (1.40188906760080348824e+6, 9.96531857395603552555e+3, 1.41676793942602588949e+2),
    (900, "irw"): (8.14988490020143969969e+6, 3.21855967364364589887e+4, 2.54215280329886552100e+2),
    (1000, "irw"): (1.11751095867042793774e+7, 3.97195957113006624744e+4, 2.82350033568565190882e+2),
    (1024, "irw"): (1.19981795012153970322e+7, 4.16455413431741105160e+4, 2.89102378171677963448e+2),
    (2000, "irw"): (8.92417159592525969757e+7, 1.58596031919701151762e+5, 5.63698289982668807041e+2),
    (5000, "irw"): (1.39291391725353838719e+9, 9.90168389581049006327e+5, 1.40774448094924075018e+3),
    (10000, "irw"): (1.11393492567251993536e+10, 3.95926581366539662639e+6, 2.81448860646783594130e+3),
    (100, "rw"): (2.04027439682283231646e+1,),
    (360, "rw"): (7.21220514648875580502e+1,),
    (1000, "rw"): (1.99444516621410829977e+2,),
    (10000, "rw"): (1.98993687242449457422e+3,),
}

SWEEP_HZ = (50, 64, 100, 128, 250, 256, 300, 360, 400, 500, 512, 720, 900, 1000, 1024, 1200, 2000, 2048,
            3000, 4000, 4096, 5000, 8000, 10000)


def _p_ref(fs: float, model: str) -> np.ndarray:
    v = P_REF[(fs, model)]
    return np.array([[v[0], v[1]], [v[1], v[2]]]) if model == "irw" else np.array([[v[0]]])


def _loop_baseline(x: np.ndarray, fs: float, cutoff_hz: float, model: str, P: np.ndarray) -> np.ndarray:
    """Plain forward Kalman filter + RTS backward pass, one sample at a time, with steady-state gains
    from the predicted covariance ``P`` and the documented edge handling (odd reflection padding of
    3*fs/cutoff samples, both passes started in steady state)."""
    lam = kalman_lambda(cutoff_hz, fs, model)
    m = P.shape[0]
    F = np.array([[1.0]]) if m == 1 else np.array([[1.0, 1.0], [0.0, 1.0]])
    H = np.eye(m)[:1]
    K = P @ H.T / (P[0, 0] + lam)
    Pf = P - K @ H @ P
    C = Pf @ F.T @ np.linalg.inv(P)
    A = (np.eye(m) - K @ H) @ F
    n = len(x)
    pad = int(min(n - 1, round(3 * fs / cutoff_hz)))
    xp = np.concatenate([2 * x[:1] - x[pad:0:-1], x, 2 * x[-1:] - x[-2:-pad - 2:-1]])
    s = np.zeros(m)
    s[0] = xp[0]  # steady state for a constant input: baseline = x[0], slope 0
    filt = np.empty((len(xp), m))
    for t, y in enumerate(xp):
        s = A @ s + K[:, 0] * y
        filt[t] = s
    G = np.eye(m) - C @ F
    sm = np.linalg.solve(np.eye(m) - C, G @ filt[-1])  # steady state of the backward recursion
    out = np.empty(len(xp))
    for t in range(len(xp) - 1, -1, -1):
        sm = C @ sm + G @ filt[t]
        out[t] = sm[0]
    return out[pad:pad + n]


@pytest.mark.parametrize("key", sorted(P_REF))
def test_steady_state_gain_matches_50_digit_reference(key):
    fs, model = key
    lam = kalman_lambda(0.8, fs, model)
    P = _p_ref(fs, model)
    K, M = _steady_state_gain(lam, model)
    s2 = P[0, 0] + lam  # innovation variance
    np.testing.assert_allclose(K[:, 0], P[:, 0] / s2, rtol=1e-12)
    np.testing.assert_allclose(M, P / s2, rtol=1e-12)


@pytest.mark.parametrize("fs, model", [(100, "irw"), (250, "irw"), (360, "irw"), (500, "irw"), (900, "irw"),
                                       (1000, "irw"), (1024, "irw"), (2000, "irw"), (5000, "irw"),
                                       (360, "rw"), (1000, "rw")])
def test_matches_plain_kalman_rts_loop(fs, model):
    """Same output as a sample-by-sample filter + smoother built from the reference covariance."""
    rng = np.random.default_rng(fs)
    n = int(4 * fs)
    t = np.arange(n) / fs
    x = 0.8 * np.sin(2 * np.pi * 0.25 * t) + 0.3 * np.sin(2 * np.pi * 0.8 * t + 0.4) \
        + 0.2 * np.sin(2 * np.pi * 7 * t) + 0.05 * rng.standard_normal(n) + 0.3
    ref = _loop_baseline(x, fs, 0.8, model, _p_ref(fs, model))
    b = estimate_baseline_kalman(x, fs, 0.8, model)
    assert np.max(np.abs(b - ref)) <= 1e-9 * np.max(np.abs(ref))


@pytest.mark.parametrize("model", ["irw", "rw"])
@pytest.mark.parametrize("fs", SWEEP_HZ)
def test_any_sampling_rate_gives_gain_half_at_cutoff(fs, model):
    """Finite output and the documented baseline/ECG gain 0.5 at cutoff_hz (0.3, 0.8, 2 Hz), 50 Hz..10 kHz."""
    for cutoff in (0.3, 0.8, 2.0):
        n = int(round(fs * 10 / cutoff))  # 10 periods
        t = np.arange(n) / fs
        x = np.sin(2 * np.pi * cutoff * t)
        y = remove_baseline_kalman(x, fs, cutoff, model)
        assert np.all(np.isfinite(y))
        mid = slice(n // 4, n // 4 + int(round(fs * 5 / cutoff)))  # 5 whole periods in the middle
        gain = np.std(y[mid]) / np.std(x[mid])
        assert abs(gain - 0.5) < 2e-3, (fs, cutoff, gain)
        # the transfer functions themselves: sum_j F_j(w) conj(B_j(w)) is the Wiener gain, 0.5 at cutoff
        fnums, fden, bnums, bden = _steady_state_smoother(kalman_lambda(cutoff, fs, model), model)
        w = np.array([2 * np.pi * cutoff / fs])
        h = sum(sps.freqz(f, fden, worN=w)[1] * np.conj(sps.freqz(b, bden, worN=w)[1])
                for f, b in zip(fnums, bnums))
        assert abs(h[0] - 0.5) < 1e-6, (fs, cutoff, h)


@pytest.mark.parametrize("fs", [1000, 1024])
def test_holter_rates_multilead(fs):
    """The 1000 / 1024 Hz case from the issue: two leads, drift removed, ECG band kept."""
    t = np.arange(int(30 * fs)) / fs
    drift, ecg = 2.0 * np.sin(2 * np.pi * 0.2 * t), 0.5 * np.sin(2 * np.pi * 10 * t)
    y = remove_baseline_kalman(np.stack([drift + ecg, drift], axis=1), fs)
    mid = slice(int(3 * fs), int(27 * fs))
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y[mid, 0] - ecg[mid])) < 0.02
    assert np.max(np.abs(y[mid, 1])) < 0.02


def test_analyze_1000_hz_npy_end_to_end(tmp_path, capsys):
    x = synth_ecg(60, 1000, 70, seed=4).signal.astype(np.float64)
    path = tmp_path / "holter1000.npy"
    np.save(path, x)
    out = tmp_path / "out"
    rc = main([str(path), "--fs", "1000", "--model", "rr-rule", "--out", str(out), "--no-html"])
    assert rc == 0, capsys.readouterr().err
    rep = json.loads((out / "report.json").read_text())
    assert rep["duration_s"] == pytest.approx(60.0)
    assert rep["windows"]["count"] >= 10
    assert rep["rejected_windows"]["count"] == 0
