"""The quality gate: hard rules, the fitted logistic score, JSON round trip, and that fitting sees
training records only."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet_tf.data.errors import DataError
from ecgnet_tf.preprocess.sqi import SQI_NAMES, window_sqi
from ecgnet_tf.signal_quality import (DEFAULT_GATE_PATH, GATE_FEATURES, GateFitConfig, HardRules, QualityGate,
                                      default_gate, fit_gate, load_gate, record_flags, save_gate, sqi_table)
from ecgnet_tf.signal_quality.noise import add_noise
from ecgnet_tf.synthetic import synth_ecg

FS = 300.0


def _records(n_clean: int = 16, n_noisy: int = 8, seconds: float = 30.0):
    """Per-window indices of synthetic clean records and of records buried in noise, with labels."""
    rows, rec, noisy = [], [], []
    for i in range(n_clean + n_noisy):
        x = synth_ecg(duration_s=seconds, fs=FS, hr_bpm=60 + 3 * i, seed=i).signal[:, 0].astype(np.float64)
        bad = i >= n_clean
        if bad:  # low-frequency noise: no hard rule fires, the logistic score must find it
            x = add_noise(add_noise(x, FS, "motion", -3.0, i), FS, "baseline", 0.0, i)
        _, t = sqi_table(x, FS)
        rows.append(t)
        rec.append(np.full(len(t), i))
        noisy.append(bad)
    return np.concatenate(rows), np.concatenate(rec), np.array(noisy)


@pytest.fixture(scope="module")
def fitted():
    sq, rec, noisy = _records()
    gate, info = fit_gate(sq, rec, noisy, GateFitConfig(target_frr=0.1, inner_folds=4))
    return gate, info, sq, rec, noisy


def test_fit_separates_noisy_from_clean_records(fitted):
    gate, info, sq, rec, noisy = fitted
    flags, frac = record_flags(gate, sq, rec, len(noisy))
    assert flags[noisy].mean() >= 0.75 and flags[~noisy].mean() <= 0.1
    assert 0 < gate.window_threshold <= 1 and len(gate.coef) == len(GATE_FEATURES)
    assert gate.fitted_on["records"] == len(noisy) and gate.fitted_on["noisy_records"] == int(noisy.sum())
    # the curve is out of fold: a sensitivity / false-rejection pair per threshold
    c = info["curve"]
    assert len(c["threshold"]) == len(c["sensitivity"]) == len(c["false_rejection"]) > 10


def test_reasons_name_the_failing_rule(fitted):
    gate = fitted[0]
    x = synth_ecg(duration_s=10.0, fs=FS, seed=1).signal[:, 0].astype(np.float64)
    rng = np.random.default_rng(0)
    cases = {"FLAT_LINE": np.zeros_like(x), "SATURATION": 9.0 * x, "CLIPPING": np.clip(x, -0.2, 0.3),
             "HF_NOISE": x + rng.normal(0, 1.0, x.size)}
    rows = np.array([[window_sqi(v, FS)[k] for k in SQI_NAMES] for v in [x, *cases.values()]])
    d = gate.decide(rows)
    assert d.ok[0] and d.reasons[0] == ()
    for i, reason in enumerate(cases, start=1):
        assert not d.ok[i] and reason in d.reasons[i], (reason, d.reasons[i])
    assert d.reason_counts()["FLAT_LINE"] == 1
    assert np.all((d.score >= 0) & (d.score <= 1))


def test_json_round_trip_and_bad_files(fitted, tmp_path):
    gate = fitted[0]
    save_gate(gate, tmp_path / "g.json")
    again = load_gate(tmp_path / "g.json")
    assert again == gate
    d = json.loads((tmp_path / "g.json").read_text())
    d["coef"] = d["coef"][:-1]
    (tmp_path / "bad.json").write_text(json.dumps(d))
    with pytest.raises(DataError, match="coef"):
        load_gate(tmp_path / "bad.json")
    with pytest.raises(DataError, match="does not exist"):
        load_gate(tmp_path / "missing.json")


def test_shipped_gate_loads_and_was_fitted_on_training_records_only():
    assert DEFAULT_GATE_PATH.is_file(), "run python -m ecgnet_tf.quality_study --stages fit"
    gate = default_gate()
    assert isinstance(gate, QualityGate) and gate.hard.flat_s > 0
    fo = gate.fitted_on
    assert fo["database"] == "cinc2017" and "test fold 0 never seen" in fo["partitions"]
    assert fo["oof_false_rejection"] <= fo["target_frr"] + 1e-9
