"""Rhythm features of a segment window: regular vs irregular RR sequences, hand-computed values,
defined rows for 0/1/2 beats, implausible intervals, config round trip and input checks."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf import preprocess as pp
from ecgnet_tf.preprocess.rhythm import RHYTHM_FEATURE_NAMES, RhythmConfig, rhythm_features, rhythm_rows

FS = 360.0
IRREGULARITY = ("sdnn_s", "rmssd_s", "cv_rr", "nrmssd", "median_abs_sd_ratio", "pnn_abs", "pnn_rel",
                "range_ratio", "sd_entropy")


def _beats(rr_s: np.ndarray, fs: float = FS, start: int = 100) -> np.ndarray:
    """R-peak samples from RR intervals (s)."""
    return (start + np.round(np.concatenate([[0.0], np.cumsum(rr_s)]) * fs)).astype(np.int64)


def _named(row: np.ndarray) -> dict[str, float]:
    return dict(zip(RHYTHM_FEATURE_NAMES, row.tolist()))


def test_exported_from_preprocess():
    assert pp.rhythm_features is rhythm_features and pp.RHYTHM_FEATURE_NAMES == RHYTHM_FEATURE_NAMES
    assert len(set(RHYTHM_FEATURE_NAMES)) == len(RHYTHM_FEATURE_NAMES)


@pytest.mark.parametrize("seed", range(5))
def test_irregular_rhythm_gives_clearly_larger_irregularity(seed):
    rng = np.random.default_rng(seed)
    # sinus: 75 bpm with a little jitter (+-10 ms); AF: 95 bpm, intervals drawn independently
    sinus = _named(rhythm_features(_beats(0.8 + rng.uniform(-0.01, 0.01, 12)), FS))
    af = _named(rhythm_features(_beats(rng.uniform(0.35, 0.95, 15)), FS))
    for name in IRREGULARITY:
        assert af[name] > 3 * sinus[name] + 0.02, (name, af[name], sinus[name])
    assert af["pnn_abs"] > 0.6 and sinus["pnn_abs"] == 0 and sinus["pnn_rel"] == 0
    assert sinus["mean_rr_s"] == pytest.approx(0.8, abs=0.01) and sinus["n_beats"] == 13
    assert af["turning_point_ratio"] > 0.5  # a random sequence turns often (expected ratio 1)


def test_perfectly_regular_rhythm_has_zero_irregularity():
    f = _named(rhythm_features(_beats(np.full(12, 0.75)), FS))
    assert f["mean_rr_s"] == pytest.approx(0.75) and f["n_beats"] == 13
    for name in (*IRREGULARITY, "turning_point_ratio", "implausible_fraction"):
        assert f[name] == 0.0, name
    assert not np.signbit(rhythm_features(_beats(np.full(12, 0.75)), FS)).any()  # no -0.0


def test_values_by_hand():
    rr = np.array([0.8, 1.0, 0.6, 0.9, 0.9])
    f = _named(rhythm_features(_beats(rr), FS))
    d = np.abs(np.diff(rr))  # 0.2, 0.4, 0.3, 0.0
    assert f["n_beats"] == 6
    assert f["mean_rr_s"] == pytest.approx(rr.mean(), abs=1e-6)
    assert f["sdnn_s"] == pytest.approx(rr.std(), abs=1e-6)
    assert f["rmssd_s"] == pytest.approx(np.sqrt(np.mean(d ** 2)), abs=1e-6)
    assert f["cv_rr"] == pytest.approx(rr.std() / rr.mean(), abs=1e-6)
    assert f["nrmssd"] == pytest.approx(np.sqrt(np.mean(d ** 2)) / rr.mean(), abs=1e-6)
    assert f["median_abs_sd_ratio"] == pytest.approx(np.median(d) / np.median(rr), abs=1e-6)
    assert f["pnn_abs"] == pytest.approx(0.75) and f["pnn_rel"] == pytest.approx(0.75)
    assert f["range_ratio"] == pytest.approx(0.4 / rr.mean(), abs=1e-6)
    # 3 triples (1.0 peak, 0.6 trough, 0.9 tie: no turn) over 2 * 3 / 3 expected
    assert f["turning_point_ratio"] == pytest.approx(2 / 2)
    # |d| / mean = 0.24, 0.48, 0.36, 0: four different 0.03-wide bins out of 16 -> log2(4) / log2(16)
    assert f["sd_entropy"] == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("beats", [[], [500], [500, 800], [0, 0]])
def test_zero_one_two_beats_are_defined(beats):
    row = rhythm_features(np.array(beats, dtype=np.int64), FS)
    assert row.shape == (len(RHYTHM_FEATURE_NAMES),) and row.dtype == np.float32
    assert np.all(np.isfinite(row)) and np.all(row >= 0)
    f = _named(row)
    assert f["n_beats"] == len(beats)
    if beats == [500, 800]:
        assert f["mean_rr_s"] == pytest.approx(300 / FS) and f["sdnn_s"] == 0 and f["rmssd_s"] == 0
    if beats == [0, 0]:  # a double detection: the one interval is implausible
        assert f["implausible_fraction"] == 1 and f["mean_rr_s"] == 0
    if len(beats) < 2:
        assert f["mean_rr_s"] == 0 and f["implausible_fraction"] == 0


def test_implausible_intervals_are_left_out():
    regular = _beats(np.full(12, 0.8))
    doubled = np.sort(np.append(regular, regular[5] + 11))  # a double detection 31 ms after a beat
    f = _named(rhythm_features(doubled, FS))
    assert f["n_beats"] == 14 and f["implausible_fraction"] == pytest.approx(1 / 13)
    # the split interval (0.03 s implausible + 0.77 s plausible) barely moves the statistics
    assert f["mean_rr_s"] == pytest.approx(0.8, abs=0.01) and f["pnn_abs"] == 0 and f["rmssd_s"] < 0.02
    gap = np.concatenate([regular[:6], regular[6:] + int(5 * FS)])  # a 5-s dropout
    g = _named(rhythm_features(gap, FS))
    assert g["mean_rr_s"] == pytest.approx(0.8) and g["sdnn_s"] == 0 and g["implausible_fraction"] > 0


def test_only_differences_matter_and_rows():
    b = _beats(np.random.default_rng(1).uniform(0.5, 1.0, 10))
    np.testing.assert_array_equal(rhythm_features(b, FS), rhythm_features(b - b[0], FS))
    np.testing.assert_array_equal(rhythm_features(b.astype(np.float64), FS), rhythm_features(b, FS))
    rows = rhythm_rows([b, b[:1], np.array([], np.int64)], FS)
    assert rows.shape == (3, len(RHYTHM_FEATURE_NAMES)) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows[0], rhythm_features(b, FS))
    assert rhythm_rows([], FS).shape == (0, len(RHYTHM_FEATURE_NAMES))


def test_config_round_trip_and_checks():
    cfg = RhythmConfig(pnn_abs_s=0.02, entropy_bins=8)
    assert RhythmConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        RhythmConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(Exception):
        cfg.pnn_rel = 0.2  # frozen
    for bad in ({"min_rr_s": 0.0}, {"min_rr_s": 2.0, "max_rr_s": 1.0}, {"pnn_rel": 0.0}, {"entropy_bins": 1}):
        with pytest.raises(ValueError):
            RhythmConfig(**bad)
    b = _beats(np.full(6, 0.8))
    strict = RhythmConfig(max_rr_s=0.7)  # the config is used: every 0.8-s interval is now implausible
    assert _named(rhythm_features(b, FS, strict))["implausible_fraction"] == 1


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 2)), "1-D"), (np.array([300, 100]), "non-decreasing"), (np.array([1.5, 3.0]), "integer"),
])
def test_bad_input_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        rhythm_features(bad, FS)
    with pytest.raises(ValueError, match="fs"):
        rhythm_features(np.array([1, 2]), 0.0)
