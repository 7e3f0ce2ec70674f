"""Pan-Tompkins R-peak detection on synthetic ECG with known R peaks, the benchmark matcher, and
one check on real MIT-BIH data (skipped when ../shared/data is absent)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgnet_tf.bench.rpeaks import BEAT_SYMBOLS, match_beats
from ecgnet_tf.preprocess import PreprocessConfig, detect_rpeaks, pan_tompkins, preprocess_signal, refine_rpeaks

FS = 360.0
from repo_paths import SHARED_DATA

# (centre s, amplitude mV, width s) of the waves of one beat, relative to the R peak
NORMAL = ((-0.20, 0.15, 0.025), (-0.03, -0.10, 0.008), (0.0, 1.0, 0.010), (0.03, -0.25, 0.008), (0.30, 0.30, 0.040))
PVC = ((0.0, 1.6, 0.030), (0.12, -0.5, 0.035), (0.36, -0.4, 0.060))


def synth(beat_times_s: np.ndarray, duration_s: float, kinds: list[str] | None = None, noise_mv: float = 0.0,
          drift_mv: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic ECG (mV) and its exact R-peak sample indices (argmax of the clean beat)."""
    n = int(duration_s * FS)
    t = np.arange(n) / FS
    x = np.zeros(n)
    kinds = kinds or ["N"] * len(beat_times_s)
    for bt, k in zip(beat_times_s, kinds):
        for c, a, w in (PVC if k == "V" else NORMAL):
            x += a * np.exp(-0.5 * ((t - bt - c) / w) ** 2)
    r = np.rint(np.asarray(beat_times_s) * FS).astype(np.int64)
    # exact peak: argmax of the clean signal within +-20 ms of the nominal R time
    true = np.array([p - 7 + int(np.argmax(x[p - 7:p + 8])) for p in r], dtype=np.int64)
    rng = np.random.default_rng(seed)
    x = x + noise_mv * rng.standard_normal(n) + drift_mv * np.sin(2 * np.pi * 0.3 * t + 0.4)
    return x, true


def _assert_exact(det: np.ndarray, true: np.ndarray, tol: int = 2) -> None:
    assert det.dtype == np.int64
    assert len(det) == len(true), f"{len(det)} detections for {len(true)} beats"
    assert np.max(np.abs(det - true)) <= tol


def test_sinus_rhythm_exact():
    beats = np.arange(1.0, 59.0, 60 / 72)
    x, true = synth(beats, 60.0)
    _assert_exact(pan_tompkins(x, FS), true, tol=0)


def test_irregular_af_like_rr_with_noise_and_drift():
    rng = np.random.default_rng(3)
    rr = rng.uniform(0.38, 1.3, 120)
    beats = 1.0 + np.cumsum(np.r_[0, rr])
    beats = beats[beats < 88.0]
    x, true = synth(beats, 90.0, noise_mv=0.02, drift_mv=0.6, seed=4)
    _assert_exact(pan_tompkins(x, FS), true, tol=2)


def test_wide_pvc_like_beats():
    beats = np.arange(1.0, 58.0, 0.8)
    kinds = ["V" if i % 5 == 4 else "N" for i in range(len(beats))]
    beats = np.array([b - 0.25 if k == "V" else b for b, k in zip(beats, kinds)])  # premature
    x, true = synth(beats, 60.0, kinds=kinds)
    _assert_exact(pan_tompkins(x, FS), true, tol=0)


def test_pause_is_bridged_and_amplitude_change_followed():
    beats = np.r_[np.arange(1.0, 20.0, 0.9), np.arange(23.0, 50.0, 0.9)]   # 3+ s pause
    x, true = synth(beats, 52.0, noise_mv=0.01)
    x[int(30 * FS):] *= 0.3   # amplitude drop by 70 %
    _assert_exact(pan_tompkins(x, FS), true, tol=1)


def test_noise_only_and_degenerate_inputs():
    assert pan_tompkins(np.zeros(int(10 * FS)), FS).size == 0
    assert pan_tompkins(np.zeros(50), FS).size == 0
    with pytest.raises(ValueError):
        pan_tompkins(np.zeros((100, 2)), FS)
    with pytest.raises(ValueError):
        pan_tompkins(np.full(5000, np.nan), FS)


def test_refine_is_polarity_aware():
    beats = np.arange(1.0, 29.0, 0.8)
    x, true = synth(beats, 30.0)
    det = refine_rpeaks(-x, true + 12, FS, radius_s=0.06)   # inverted lead, detections 33 ms late
    np.testing.assert_array_equal(det, true)
    np.testing.assert_array_equal(refine_rpeaks(x, true - 10, FS), true)
    np.testing.assert_array_equal(pan_tompkins(-x, FS), true)


def test_detect_rpeaks_after_pipeline_at_other_rate():
    fs_in = 500.0
    beats = np.arange(1.0, 29.0, 0.75)
    t = np.arange(int(30 * fs_in)) / fs_in
    x = np.zeros_like(t)
    for b in beats:
        for c, a, w in NORMAL:
            x += a * np.exp(-0.5 * ((t - b - c) / w) ** 2)
    y, fs_out = preprocess_signal(np.stack([x, 0.5 * x], axis=1), fs_in, PreprocessConfig())
    assert fs_out == 360.0 and y.shape == (10800, 2) and y.dtype == np.float32
    det = detect_rpeaks(y, fs_out, lead=1)
    _assert_exact(det, np.rint(beats * 360.0).astype(np.int64), tol=1)


def test_match_beats_counts():
    ref = np.array([100, 400, 700, 1000])
    det = np.array([110, 405, 460, 1500])
    assert match_beats(ref, det, tol=54) == (2, 2, 2)
    # one detection between two beats may match only one of them
    assert match_beats(np.array([100, 180]), np.array([140]), tol=54) == (1, 1, 0)
    assert match_beats(np.array([], dtype=np.int64), np.array([5]), tol=54) == (0, 0, 1)
    assert set("NV/") <= BEAT_SYMBOLS and "+" not in BEAT_SYMBOLS and "!" not in BEAT_SYMBOLS


@pytest.mark.realdata
def test_record_100_first_five_minutes():
    base = SHARED_DATA / "mitdb" / "100"
    if not base.with_suffix(".hea").is_file():
        pytest.skip(f"MIT-BIH not found at {base.parent}")
    import wfdb

    n = int(300 * FS)
    rec = wfdb.rdrecord(str(base), sampto=n, channels=[0])
    ann = wfdb.rdann(str(base), "atr", sampto=n)
    ref = ann.sample[np.array([s in BEAT_SYMBOLS for s in ann.symbol])]
    det = pan_tompkins(rec.p_signal[:, 0], FS)
    tp, fn, fp = match_beats(ref, det, tol=int(0.15 * FS))
    assert tp / (tp + fn) >= 0.99 and tp / (tp + fp) >= 0.99
    assert len(ref) > 300
