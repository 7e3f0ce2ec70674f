"""Median-beat 12-lead features: synthetic beats with a known Q wave, ST shift and T inversion."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.preprocess.ecg12_features import (ECG12_FEATURE_NAMES, LEADS_12, ecg12_features, qrs_bounds,
                                                 reference_rpeaks)

FS = 360.0


def _gauss(t: np.ndarray, mu: float, sd: float, amp: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((t - mu) / sd) ** 2)


def _record(n_beats: int = 10, rr_s: float = 0.9, q_lead: int | None = None, st_lead: int | None = None,
            st_mv: float = 0.0, t_inverted_lead: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, 12) mV, R peaks): each beat a P wave, a narrow QRS (R at the peak), an ST plateau and a T
    wave; optionally a deep Q wave, an ST shift (from J to the end of T) or an inverted T in one lead."""
    n = int((n_beats + 1) * rr_s * FS)
    t = np.arange(n) / FS
    x = np.zeros((n, 12))
    peaks = (np.arange(1, n_beats + 1) * rr_s * FS).astype(int)
    for p in peaks:
        tr = p / FS
        for c in range(12):
            lead = _gauss(t, tr - 0.16, 0.02, 0.12) + _gauss(t, tr, 0.012, 1.0) + _gauss(t, tr + 0.03, 0.008, -0.2)
            if c == q_lead:
                lead += _gauss(t, tr - 0.03, 0.008, -0.5)
            tw = _gauss(t, tr + 0.28, 0.05, 0.3)
            lead += -tw if c == t_inverted_lead else tw
            if c == st_lead:
                lead += st_mv * ((t > tr + 0.05) & (t < tr + 0.35))
            x[:, c] += lead
    return x, peaks


def _feat(f: np.ndarray, lead: str, name: str) -> float:
    return float(f[ECG12_FEATURE_NAMES.index(f"{lead}_{name}")])


def test_names_and_shape():
    x, peaks = _record()
    f = ecg12_features(x, peaks, FS)
    assert f.shape == (len(ECG12_FEATURE_NAMES),) and f.dtype == np.float32 and np.isfinite(f).all()
    assert len(set(ECG12_FEATURE_NAMES)) == len(ECG12_FEATURE_NAMES)
    assert _feat(f, "II", "r") == pytest.approx(1.0, abs=0.1)
    assert f[ECG12_FEATURE_NAMES.index("hr_bpm")] == pytest.approx(60 / 0.9, rel=0.01)
    assert f[ECG12_FEATURE_NAMES.index("n_beats")] == 10
    assert f[ECG12_FEATURE_NAMES.index("beat_corr")] > 0.99
    assert 0.03 < f[ECG12_FEATURE_NAMES.index("qrs_s")] < 0.15


def test_q_wave_found_in_its_lead_only():
    v2 = LEADS_12.index("V2")
    f = ecg12_features(*_record(q_lead=v2), FS)
    assert _feat(f, "V2", "q") < -0.3 and _feat(f, "V2", "q_s") > 0.01
    assert _feat(f, "V5", "q") > -0.05 and _feat(f, "V5", "q_s") < _feat(f, "V2", "q_s")


def test_st_elevation_and_t_inversion():
    ii, v3 = LEADS_12.index("II"), LEADS_12.index("V3")
    base = ecg12_features(*_record(), FS)
    f = ecg12_features(*_record(st_lead=ii, st_mv=0.2, t_inverted_lead=v3), FS)
    assert _feat(f, "II", "st_60") - _feat(base, "II", "st_60") == pytest.approx(0.2, abs=0.03)
    assert abs(_feat(f, "I", "st_60") - _feat(base, "I", "st_60")) < 1e-6
    assert _feat(f, "V3", "t") < -0.2 and _feat(f, "V3", "t_mean") < 0 < _feat(f, "V4", "t")


def test_qrs_bounds_bracket_r():
    x, peaks = _record()
    pre = int(0.35 * FS)
    tmpl = np.median(np.stack([x[p - pre: p + int(0.6 * FS) + 1] for p in peaks]), axis=0)
    on, off = qrs_bounds(tmpl, pre, FS)
    assert on < pre < off and (off - on) / FS < 0.15


def test_too_few_beats_give_zeros_and_bad_input_raises():
    x, _ = _record()
    f = ecg12_features(x, np.array([], dtype=np.int64), FS)
    assert np.isfinite(f).all() and not f[: -4].any()
    with pytest.raises(ValueError, match="12"):
        ecg12_features(x[:, :3], np.array([100]), FS)
    with pytest.raises(ValueError, match="inside"):
        ecg12_features(x, np.array([len(x) + 5]), FS)
    with pytest.raises(ValueError, match="fs"):
        ecg12_features(x, np.array([100]), 0.0)


def test_reference_rpeaks_finds_the_beats():
    x, peaks = _record()
    found = reference_rpeaks(x, FS)
    assert len(found) >= len(peaks) - 1
    assert np.all(np.min(np.abs(found[:, None] - peaks[None, :]), axis=1) <= int(0.05 * FS))


def test_feature_table_reads_the_records_once_and_refuses_other_tasks(fake_data, tmp_path, monkeypatch):
    from ecgnet_tf import preprocess as pp
    from ecgnet_tf.data import ptbxl
    from ecgnet_tf.tasks import ecg12_table, get_task, task_records

    recs = task_records(get_task("ptbxl-mi"), fake_data)
    ids = list(recs.split.train[:3])
    cfg = pp.PreprocessConfig()
    table = ecg12_table.ecg12_feature_table(recs, fake_data, ids, cfg, cache_dir=tmp_path)
    rec = ptbxl.load_record(fake_data, recs.entry_of[ids[1]])
    assert table.shape == (3, len(ECG12_FEATURE_NAMES))
    assert np.array_equal(table[1], ecg12_table.signal_ecg12_features(rec.signal, rec.fs, cfg))
    monkeypatch.setattr(ecg12_table.ptbxl, "load_record", lambda *a, **k: pytest.fail("not served from the cache"))
    assert np.array_equal(ecg12_table.ecg12_feature_table(recs, fake_data, ids, cfg, cache_dir=tmp_path), table)
    with pytest.raises(ValueError, match="PTB-XL"):
        ecg12_table.ecg12_feature_table(task_records(get_task("cinc2017"), fake_data), fake_data, [], cfg, tmp_path)
