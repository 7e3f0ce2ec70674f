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
