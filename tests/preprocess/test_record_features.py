"""Whole-record features: defined for any input, and they separate regular from irregular rhythms."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf import preprocess as pp
from ecgnet_tf.preprocess.record_features import RECORD_FEATURE_NAMES, record_features, sample_entropy
from ecgnet_tf.synthetic import synth_ecg

FS = 360.0
IDX = {n: i for i, n in enumerate(RECORD_FEATURE_NAMES)}


def _features(kind: str, seed: int = 0, dur: float = 30.0) -> np.ndarray:
    rec = synth_ecg(dur, FS, 75.0, kind, seed=seed)
    x, fs = pp.preprocess_signal(rec.signal, FS, pp.PreprocessConfig())
    return record_features(x[:, 0], pp.detect_rpeaks(x, fs), fs)


def test_af_is_more_irregular_than_sinus_rhythm():
    sinus = np.stack([_features("sinus", s) for s in range(3)])
    af = np.stack([_features("af", s) for s in range(3)])
    for name in ("rr_cv_rr", "rr_nrmssd", "sample_entropy"):
        assert af[:, IDX[name]].min() > sinus[:, IDX[name]].max(), name
    assert sinus[:, IDX["template_corr"]].min() > 0.9  # clean synthetic beats look alike
    assert np.all(np.abs(sinus[:, IDX["median_hr_bpm"]] - 75.0) < 8.0)
    assert sinus[:, IDX["duration_s"]] == pytest.approx(30.0, abs=0.01)


@pytest.mark.parametrize("case", ["no_beats", "one_beat", "flat", "short", "nan"])
def test_every_feature_is_finite_for_degenerate_records(case):
    x = np.sin(np.linspace(0, 20, 3600))
    r = np.array([100, 500, 900, 1300, 1700])
    if case == "no_beats":
        r = np.array([], dtype=np.int64)
    elif case == "one_beat":
        r = np.array([1800])
    elif case == "flat":
        x = np.zeros(3600)
    elif case == "short":
        x, r = x[:200], np.array([50, 150])
    else:
        x = x.copy()
        x[10:20] = np.nan
    f = record_features(x, r, FS)
    assert f.shape == (len(RECORD_FEATURE_NAMES),) and f.dtype == np.float32
    assert np.all(np.isfinite(f))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="inside the signal"):
        record_features(np.zeros(100), np.array([5, 150]), FS)
    with pytest.raises(ValueError, match="fs"):
        record_features(np.zeros(100), np.array([5]), 0.0)
    with pytest.raises(ValueError, match="one lead"):
        record_features(np.zeros((100, 2)), np.array([5]), FS)


def test_sample_entropy_orders_regular_below_random():
    rng = np.random.default_rng(0)
    assert sample_entropy(np.full(60, 0.8), r=0.03) == 0.0
    periodic = np.tile([0.6, 1.0], 30)
    noisy = 0.8 + 0.2 * rng.standard_normal(60)
    assert sample_entropy(periodic, 0.03) < 0.1 < sample_entropy(noisy, 0.03)
    assert sample_entropy(np.array([0.8, 0.9]), 0.03) == 0.0  # too short: defined as 0


def test_rr_structure_tells_bigeminy_and_ectopy_from_af():
    """Bigeminy alternates (lag-1 autocorrelation strongly negative, lag 2 positive); occasional ectopics
    on a regular rhythm keep most intervals near the median; AF has neither and a wide histogram."""
    from ecgnet_tf.preprocess.record_features import rr_structure

    rng = np.random.default_rng(0)
    sinus = 0.8 + 0.01 * rng.standard_normal(60)
    bigeminy = np.tile([0.55, 1.05], 30) + 0.01 * rng.standard_normal(60)
    ectopy = sinus.copy()
    ectopy[10::12] = 0.5
    ectopy[11::12] = 1.1
    af = rng.uniform(0.45, 1.2, 60)
    s, b, e, a = (rr_structure(v) for v in (sinus, bigeminy, ectopy, af))
    assert b["rr_autocorr_lag1"] < -0.8 and b["rr_autocorr_lag2"] > 0.8
    assert abs(a["rr_autocorr_lag1"]) < 0.35 and abs(a["rr_autocorr_lag2"]) < 0.35
    assert s["near_median_fraction"] == 1.0 and e["near_median_fraction"] > 0.75 > 0.3 > a["near_median_fraction"]
    assert a["rr_hist_entropy"] > e["rr_hist_entropy"] > s["rr_hist_entropy"]
    assert a["cosen"] > s["cosen"] + 1.0
    # a slow heart-rate swing is correlated and lies along the identity line; alternation lies across it
    swing = rr_structure(0.8 + 0.1 * np.sin(np.arange(60) / 5))
    assert swing["rr_autocorr_lag1"] > 0.9 and swing["sd1_sd2_ratio"] < 0.2 < 10 < b["sd1_sd2_ratio"]
    assert rr_structure(np.array([0.8, 0.8, 0.8])) == dict.fromkeys(s, 0.0)  # too few intervals
