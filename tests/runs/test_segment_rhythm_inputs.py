"""Segment windows carry the rhythm features of their own R peaks in the "rr" slot, through
tasks.segment_inputs, signal_windows, the window cache and iter_windows."""
from __future__ import annotations

import numpy as np

from ecgnet_tf import preprocess as pp
from ecgnet_tf.synthetic import synth_ecg
from ecgnet_tf.tasks import (TaskRecords, catalog, get_task, iter_windows, load_windows, rr_feature_names,
                             segment_inputs, signal_windows)
from ecgnet_tf.tasks.windows import CACHE_FORMAT

F = len(pp.RHYTHM_FEATURE_NAMES)


def test_rr_slot_names_per_layout():
    assert rr_feature_names(get_task("cinc2017")) == pp.RHYTHM_FEATURE_NAMES
    assert rr_feature_names(get_task("ptbxl-mi")) == pp.RHYTHM_FEATURE_NAMES
    assert rr_feature_names(get_task("mitdb-aami")) == pp.RR_FEATURE_NAMES + pp.RR_CONTEXT_NAMES
    assert CACHE_FORMAT.startswith("windows/3")  # cached segment arrays changed: old files are recomputed


def test_each_segment_row_is_rhythm_features_of_its_own_peaks():
    task = get_task("cinc2017")
    # sinus then AF: the windows' rows differ, each from its own beats only
    x = np.concatenate([synth_ecg(20, 360, 70, "sinus", seed=1).signal,
                        synth_ecg(20, 360, 95, "af", seed=2).signal]).astype(np.float32)
    peaks = pp.detect_rpeaks(x, 360.0)
    m = segment_inputs(task, x, 360.0, peaks)
    assert m.rr.shape == (len(m), F) and m.rr.dtype == np.float32 and len(m) == 7
    for k in range(len(m)):
        own = peaks[(peaks >= m.starts[k]) & (peaks < m.starts[k] + 3600)] - m.starts[k]
        np.testing.assert_array_equal(m.rpeaks[k], own)
        np.testing.assert_array_equal(m.rr[k], pp.rhythm_features(own, 360.0))
    irr = pp.RHYTHM_FEATURE_NAMES.index("nrmssd")
    assert m.rr[-1, irr] > 3 * m.rr[0, irr]  # the AF window is the irregular one
    assert set(m.named()) == {"ecg", "prior", "rr"}
    np.testing.assert_array_equal(m.take([2, 5]).rr, m.rr[[2, 5]])


def test_short_record_and_no_peaks_give_defined_rows():
    task = get_task("cinc2017")
    x = synth_ecg(7, 360, 70, seed=3).signal.astype(np.float32)  # shorter than a window: zero-padded
    m = segment_inputs(task, x, 360.0, pp.detect_rpeaks(x, 360.0))
    assert len(m) == 1 and m.padded > 0 and m.rr.shape == (1, F)
    np.testing.assert_array_equal(m.rr[0], pp.rhythm_features(m.rpeaks[0], 360.0))
    flat = segment_inputs(task, np.zeros((3600 * 2, 1), np.float32), 360.0, np.array([], np.int64))
    assert flat.rr.shape == (3, F) and np.all(flat.rr == 0)


def test_signal_windows_and_cache_carry_the_rows(fake_data, tmp_path):
    task = get_task("cinc2017")
    sig = synth_ecg(31.3, 300, 95, "af", seed=4).signal
    rw = signal_windows(task, "rec", sig, 300.0, pp.PreprocessConfig(), ("ECG",), label="A")
    assert rw.rr.shape == (len(rw), F)
    for k in range(len(rw)):
        np.testing.assert_array_equal(rw.rr[k], pp.rhythm_features(rw.rpeaks[k], rw.fs))
    cat = catalog(task, fake_data)
    recs = TaskRecords(task, None, cat.label_of, cat.entry_of)
    ids = list(cat.ids[:2]) + [cat.ids[-1]]
    w = load_windows(recs, fake_data, ids, pp.PreprocessConfig(), tmp_path)
    assert w.rr.shape == (len(w), F) and np.all(np.isfinite(w.rr))
    again = load_windows(recs, fake_data, ids, pp.PreprocessConfig(), tmp_path)  # from the cache
    np.testing.assert_array_equal(again.rr, w.rr)
    parts = list(iter_windows(recs, fake_data, ids, pp.PreprocessConfig(), tmp_path))
    assert [p.record[0] for p in parts] == ids and all(len(set(p.record)) == 1 for p in parts)
    np.testing.assert_array_equal(np.concatenate([p.rr for p in parts]), w.rr)
    np.testing.assert_array_equal(np.concatenate([p.x for p in parts]), w.x)
    direct = signal_windows(task, ids[0], *_raw(fake_data, ids[0]), pp.PreprocessConfig(), ("ECG",))
    np.testing.assert_array_equal(parts[0].rr, direct.rr)  # the cache serves what the record gives


def _raw(data_dir, rid):
    from ecgnet_tf.data import cinc2017

    rec = cinc2017.load_record(data_dir, rid)
    return rec.signal, rec.fs
