"""CinC 2017 with rhythm features (edge-rhythm): the "rr" input end to end, challenge_f1, variable-length
records, ``evaluate --records-file`` on a user's CinC-style folder, and streaming evaluation."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ecgnet_tf import evaluate
from ecgnet_tf import preprocess as pp
from ecgnet_tf.synthetic import synth_ecg
from cli_checks import one_error_line
from fake_databases import write_cinc_mat_record

pytestmark = pytest.mark.slow

#: record -> (label, seconds, rhythm): 9 s (one zero-padded window), 61 s, and a length whose tail is not a
#: whole hop (37.3 s: six windows and 2.3 s left over)
OWN = {"B00001": ("N", 9.0, "sinus"), "B00002": ("A", 61.0, "af"), "B00003": ("O", 37.3, "sinus")}
OWN_WINDOWS = {"B00001": 1, "B00002": 11, "B00003": 6}


@pytest.fixture(scope="module")
def rhythm_run(trained_run):
    return trained_run("cinc2017", "edge-rhythm")


@pytest.fixture(scope="module")
def own_data(tmp_path_factory):
    """A user's CinC-style folder: REFERENCE.csv + training2017/ with three records of odd lengths, and
    one REFERENCE row whose files are missing."""
    root = tmp_path_factory.mktemp("own_cinc")
    d = root / "cinc2017"
    signals = {}
    for i, (rid, (label, secs, rhythm)) in enumerate(OWN.items()):
        sig = synth_ecg(secs, 300.0, 95 if rhythm == "af" else 70, rhythm, seed=40 + i).signal[:, 0]
        write_cinc_mat_record(d / "training2017", rid, sig)
        signals[rid] = sig
    with open(d / "REFERENCE.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([(rid, v[0]) for rid, v in OWN.items()] + [("B00004", "N")])
    return root, signals


def test_edge_rhythm_run_reads_the_rhythm_input(rhythm_run, fake_data, window_cache):
    from ecgnet_tf.model import get_model_config
    from ecgnet_tf.runs import ModelSpec, load_model
    from ecgnet_tf.tasks import TaskRecords, catalog, get_task, load_windows

    assert get_model_config("edge-rhythm").rr_features == len(pp.RHYTHM_FEATURE_NAMES)
    spec = ModelSpec.from_run(rhythm_run)
    assert spec.inputs == ("ecg", "prior", "rr")
    model = load_model(rhythm_run / "model.keras")
    assert [i.name for i in model.inputs] == ["ecg", "prior", "rr"]
    m = json.loads((rhythm_run / "metrics.json").read_text())
    assert m["challenge_f1"] == m["challenge_score"] and 0.0 <= m["challenge_f1"] <= 1.0
    assert m["challenge_f1"] == pytest.approx(np.mean([m["per_class"][c]["f1"] for c in "NAO"]))
    task = get_task("cinc2017")
    cat = catalog(task, fake_data)
    split = json.loads((rhythm_run / "split.json").read_text())
    w = load_windows(TaskRecords(task, None, cat.label_of, cat.entry_of), fake_data, split["test"][:2],
                     spec.preprocess, window_cache)
    assert w.rr.shape == (len(w), len(pp.RHYTHM_FEATURE_NAMES))
    p1 = spec.predict(model, w.named())
    p2 = spec.predict(model, {**w.named(), "rr": np.ones_like(w.rr)})
    assert not np.allclose(p1, p2)  # the model reads the rhythm features


def test_predict_stream_equals_one_pass(rhythm_run, fake_data, window_cache):
    from ecgnet_tf.runs import ModelSpec, load_model
    from ecgnet_tf.tasks import TaskRecords, Windows, catalog, get_task, iter_windows
    from ecgnet_tf.training.evaluation import predict_stream

    spec = ModelSpec.from_run(rhythm_run)
    model = load_model(rhythm_run / "model.keras")
    task = get_task("cinc2017")
    cat = catalog(task, fake_data)
    recs = TaskRecords(task, None, cat.label_of, cat.entry_of)
    ids = list(cat.ids[::4])
    parts = list(iter_windows(recs, fake_data, ids, spec.preprocess, window_cache))
    labels, probs = predict_stream(spec, model, iter(parts), batch_size=4, chunk_batches=1)
    whole = Windows.concat(parts)
    # the same batches; a graph traced for another input size may round the last float bit differently
    np.testing.assert_allclose(probs, spec.predict(model, whole.named(), batch_size=4), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(labels.record, whole.record)
    np.testing.assert_array_equal(labels.y, whole.y)
    assert len(labels) == len(whole) and labels.ok.dtype == bool


def test_records_file_on_own_folder_with_odd_lengths(rhythm_run, own_data, tmp_path, capsys):
    root, _ = own_data
    f = tmp_path / "ids.txt"
    f.write_text("# my three records\nB00001\n\n  B00002  # the 61-s one\nB00003\nB00001\n")
    out = tmp_path / "o"
    rc = evaluate.main([str(rhythm_run), "--data-dir", str(root), "--records-file", str(f), "--out", str(out),
                        "--cache-dir", str(tmp_path / "cache")])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_records"] == 3 and m["partition"] == "records" and m["level"] == "record"
    assert m["n_windows"] == sum(OWN_WINDOWS.values())
    assert m["challenge_f1"] == m["challenge_score"] and 0.0 <= m["challenge_f1"] <= 1.0
    assert set(m["per_class"]) == {"N", "A", "O", "~"}
    assert json.loads(printed)["n_records"] == 3
    with np.load(out / "predictions.npz") as z:
        counts = {r: int((z["record"] == r).sum()) for r in OWN}
    assert counts == OWN_WINDOWS


def test_records_file_errors(rhythm_run, own_data, tmp_path, capsys):
    root, _ = own_data
    f = tmp_path / "ids.txt"
    f.write_text("B00001\nZZ9\nB00004\n")  # B00004: in REFERENCE.csv, but its files are missing
    base = [str(rhythm_run), "--data-dir", str(root), "--out", str(tmp_path / "o")]
    err = one_error_line(evaluate.main, capsys, base + ["--records-file", str(f)])
    assert "2 of 3 record id(s) are not labelled cinc2017 records" in err and "ZZ9, B00004" in err
    assert not (tmp_path / "o" / "metrics.json").exists()
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    assert "lists no record ids" in one_error_line(evaluate.main, capsys,
                                                   base + ["--records-file", str(tmp_path / "empty.txt")])
    assert "records file not found" in one_error_line(evaluate.main, capsys,
                                                      base + ["--records-file", str(tmp_path / "nope.txt")])
    assert "not both" in one_error_line(evaluate.main, capsys,
                                        base + ["--records-file", str(f), "--records", "B00001"])


def test_monitor_classifies_odd_lengths_with_the_rhythm_model(rhythm_run, own_data):
    from ecgnet_tf.monitor.classifiers import KerasRunClassifier
    from ecgnet_tf.monitor.config import MonitorConfig
    from ecgnet_tf.monitor.monitor import Monitor

    _, signals = own_data
    clf = KerasRunClassifier(rhythm_run)
    for rid, sig in signals.items():
        mon = Monitor(clf, MonitorConfig(fs=300.0, block_windows=4))
        for i in range(0, len(sig), 3001):
            mon.push(sig[i:i + 3001])
        mon.finish()
        assert len(mon.windows) == OWN_WINDOWS[rid], rid
        assert all(w.probs is None or abs(sum(w.probs) - 1) < 1e-4 for w in mon.windows)


def test_read_records_file(tmp_path):
    from ecgnet_tf.training.evaluation import read_records_file

    f = tmp_path / "r.txt"
    f.write_text("\ufeffA1\r\n# c\n A2 \nA1\nA3#x\n")
    assert read_records_file(f) == ["A1", "A2", "A3"]  # byte-order mark, CRLF, comments, repeats


def test_golden_vectors_refuse_rhythm_models_clearly(rhythm_run):
    from ecgnet_tf.export.golden import pipeline_config

    with pytest.raises(ValueError, match="rhythm-feature models .* have no phone port yet"):
        pipeline_config(rhythm_run, 300.0)


def test_rhythm_model_exports_and_runs_as_tflite_in_the_monitor(rhythm_run, fake_data, window_cache, own_data,
                                                                 tmp_path):
    from ecgnet_tf.export import quantize as q
    from ecgnet_tf.monitor.classifiers import TfliteClassifier
    from ecgnet_tf.monitor.config import MonitorConfig
    from ecgnet_tf.monitor.monitor import Monitor

    out = tmp_path / "rhythm_int8.tflite"
    report = q.quantize_run(rhythm_run, "int8", out, data_dir=fake_data, calibration=16, max_eval=20,
                            cache_dir=window_cache)
    assert report["calibration"]["inputs"] == ["ecg", "prior", "rr"] and report["flex_ops"] == 0
    assert report["metadata"]["inputs"] == ["ecg", "prior", "rr"] and report["parity"]["n"] > 0
    clf = TfliteClassifier(out)
    assert clf.spec.inputs == ("ecg", "prior", "rr")
    mon = Monitor(clf, MonitorConfig(fs=300.0))
    mon.push(own_data[1]["B00003"])
    mon.finish()
    assert len(mon.windows) == OWN_WINDOWS["B00003"]
    assert all(w.probs is None or abs(sum(w.probs) - 1) < 1e-2 for w in mon.windows)
