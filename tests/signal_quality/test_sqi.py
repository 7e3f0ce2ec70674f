"""Signal-quality indices: each moves the right way on synthetic clean / noisy / flat / clipped /
wandering windows, and the second (Shannon-energy) detector finds the beats."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.preprocess.energy_peaks import energy_rpeaks
from ecgnet_tf.preprocess.sqi import SQI_NAMES, bsqi, match_peaks, moments, spectrum_sqis, tsqi, window_sqi
from ecgnet_tf.synthetic import synth_ecg

FS = 360.0


@pytest.fixture(scope="module")
def clean():
    s = synth_ecg(duration_s=10.0, fs=FS, hr_bpm=72.0, seed=3)
    return s.signal[:, 0].astype(np.float64), s.rpeaks


def test_energy_detector_finds_the_beats(clean):
    x, ref = clean
    found = energy_rpeaks(x, FS)
    assert match_peaks(found, ref, int(0.05 * FS)) >= len(ref) - 1
    assert len(found) <= len(ref) + 1
    assert energy_rpeaks(np.zeros(3600), FS).size == 0


def test_bsqi_agreement_and_disagreement():
    a = np.array([100, 400, 700, 1000])
    assert bsqi(a, a, FS) == 1.0
    assert bsqi(a, a + 200, FS) == 0.0  # 0.56 s apart: no match within 150 ms
    assert bsqi(a, a[:2], FS) == pytest.approx(2 / 4)
    assert bsqi(np.array([], np.int64), np.array([], np.int64), FS) == 0.0


def test_indices_move_the_right_way(clean):
    x, _ = clean
    rng = np.random.default_rng(0)
    good = window_sqi(x, FS)
    noisy = window_sqi(x + rng.normal(0, 0.5, x.size), FS)
    wander = window_sqi(x + 2.0 * np.sin(2 * np.pi * 0.3 * np.arange(x.size) / FS), FS)
    assert set(good) == set(SQI_NAMES) and all(np.isfinite(v) for v in good.values())
    assert good["bsqi"] > 0.95 and good["tsqi"] > 0.95 and good["ksqi"] > 5
    assert noisy["bsqi"] < good["bsqi"] and noisy["tsqi"] < 0.6 and noisy["ksqi"] < good["ksqi"]
    assert noisy["qrs_snr_db"] < good["qrs_snr_db"] - 6 and noisy["hfsqi"] > 10 * good["hfsqi"]
    assert wander["bassqi"] < 0.2 < 0.9 < good["bassqi"]
    flat = window_sqi(np.zeros_like(x), FS)
    assert flat["flat_s"] == pytest.approx(10.0) and flat["bsqi"] == 0.0 and flat["tsqi"] == 0.0
    clipped = window_sqi(np.clip(x, -0.2, 0.3), FS)
    assert clipped["clipped_fraction"] > 0.03 > good["clipped_fraction"]
    bad = window_sqi(np.r_[x[:100], np.nan, x[101:]], FS)
    assert all(np.isfinite(v) for v in bad.values())


def test_template_sqi_keeps_bigeminy_but_not_noise():
    s = synth_ecg(duration_s=10.0, fs=FS, hr_bpm=70.0, beat_probs={"N": 0.5, "V": 0.5}, seed=1)
    x = s.signal[:, 0].astype(np.float64)
    assert tsqi(x, s.rpeaks, FS) > 0.85
    noise = np.random.default_rng(2).normal(0, 1, x.size)
    assert tsqi(noise, s.rpeaks, FS) < 0.4


def test_template_sqi_keeps_multiform_ectopy_but_not_artefacts():
    """Three recurring morphologies read as stable; the same rhythm with bursts over half the beats does not."""
    s = synth_ecg(duration_s=10.0, fs=FS, hr_bpm=80.0, beat_probs={"N": 0.4, "V": 0.3, "Q": 0.3}, seed=4)
    x = s.signal[:, 0].astype(np.float64)
    assert len(set(s.beat_classes.tolist())) == 3
    clean = tsqi(x, s.rpeaks, FS)
    assert clean > 0.9
    rng = np.random.default_rng(5)
    hit = x.copy()
    for r in s.rpeaks[::2]:  # a motion-like burst on every other beat
        lo, hi = max(0, r - 90), min(x.size, r + 140)
        hit[lo:hi] += np.cumsum(rng.normal(0, 0.08, hi - lo))
    assert tsqi(hit, s.rpeaks, FS) < clean - 0.15
    assert tsqi(x, s.rpeaks[:2], FS) == 0.0  # too few beats: the index's worst value


def test_moments_and_spectrum_shares():
    g = np.random.default_rng(0).normal(size=100_000)
    k, sk = moments(g)
    assert k == pytest.approx(3.0, abs=0.1) and sk < 0.05
    assert moments(np.ones(10)) == (0.0, 0.0)
    t = np.arange(3600) / FS
    p, b, hf = spectrum_sqis(np.sin(2 * np.pi * 10 * t), FS)  # all power in the QRS band
    assert p > 0.95 and b > 0.95 and hf < 0.01
