"""Real model paths: a quick-trained cinc2017 run through the CLI, and the LiteRT adapter (int8)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ecgnet_tf  # noqa: F401
from ecgnet_tf.analyze import main
from ecgnet_tf.monitor.classifiers import KerasRunClassifier, TfliteClassifier, load_classifier
from fake_databases import write_af_record


@pytest.fixture(scope="module")
def cinc_run(trained_run) -> Path:
    return trained_run("cinc2017", "baseline")


@pytest.mark.slow
def test_cli_with_trained_run_writes_reports(cinc_run, tmp_path, capsys):
    write_af_record(tmp_path / "af1")
    out = tmp_path / "out"
    rc = main([str(tmp_path / "af1"), "--model", str(cinc_run), "--out", str(out), "--reference-annotations", "atr"])
    assert rc == 0, capsys.readouterr().err
    rep = json.loads((out / "report.json").read_text())
    for key in ("episodes", "af_burden_pct", "rejected_windows", "routing", "observations", "onset_latency_s",
                "episode_sensitivity", "episode_ppv", "hourly_af_minutes"):
        assert key in rep
    assert rep["model"]["task"] == "cinc2017" and rep["windows"]["count"] == (420 - 10) // 5 + 1
    assert rep["routing"]["overall"]["routing"] in ("auto_report", "cardiologist_review", "extended_monitoring")
    for e in rep["episodes"]:
        assert e["end_s"] > e["start_s"] and e["routing"]
    rows = (out / "windows.csv").read_text().splitlines()[1:]
    p = np.array([[float(v) for v in r.split(",")[-4:]] for r in rows if r.split(",")[3] == "1"])
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-3)
    assert (out / "episodes.csv").is_file()
    assert "data:image/png;base64," in (out / "report.html").read_text()


def _tiny_model(n=3600):
    import tf_keras as keras

    ecg = keras.Input((n, 1), name="ecg")
    prior = keras.Input((n, 1), name="prior")
    h = keras.layers.Concatenate()([ecg, prior])
    h = keras.layers.Conv1D(4, 9, strides=4, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    out = keras.layers.Dense(4, activation="softmax")(h)
    return keras.Model({"ecg": ecg, "prior": prior}, out)


def test_tflite_int8_adapter(cinc_run, tmp_path):
    import tensorflow as tf

    model = _tiny_model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3600, 1)).astype(np.float32)
    pr = (rng.random((8, 3600, 1)) > 0.7).astype(np.float32)

    def rep_data():
        for i in range(8):
            yield {"ecg": x[i:i + 1], "prior": pr[i:i + 1]}

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep_data
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    path = tmp_path / "m.tflite"
    path.write_bytes(conv.convert())
    # sidecar without metadata: needs --run
    path.with_suffix(".json").write_text(json.dumps({"mode": "int8"}))
    with pytest.raises(ValueError, match="--run"):
        TfliteClassifier(path)
    clf = load_classifier(path, cinc_run)
    assert clf.spec.classes == ("N", "A", "O", "~") and clf.ecg_in["dtype"] == np.int8
    got = clf.predict(x[:4, :, :], pr[:4, :, 0])
    want = model({"ecg": x[:4], "prior": pr[:4]}, training=False).numpy()
    assert got.shape == (4, 4) and np.abs(got - want).max() < 0.05
    # sidecar with metadata: no run folder needed
    keras_clf = KerasRunClassifier(cinc_run)
    s = keras_clf.spec
    meta = {"task": s.task, "classes": list(s.classes), "preprocess": {k: v for k, v in vars(s.preprocess).items()},
            "normalization": s.zscore.to_dict(), "window_s": s.window_s, "prior_kind": s.prior_kind,
            "run_dir": str(cinc_run)}
    path.with_suffix(".json").write_text(json.dumps({"metadata": meta}))
    clf2 = TfliteClassifier(path)
    assert (clf2.spec.classes, clf2.spec.preprocess, clf2.spec.window_s) == (s.classes, s.preprocess, s.window_s)
    assert np.array_equal(clf2.spec.zscore.std, s.zscore.std)
    np.save(tmp_path / "r.npy", write_af_record(tmp_path / "rec")[:250 * 120])
    rc = main([str(tmp_path / "r.npy"), "--fs", "250", "--model", str(path), "--out", str(tmp_path / "o"),
               "--no-html"])
    assert rc == 0
    assert json.loads((tmp_path / "o" / "report.json").read_text())["windows"]["count"] == 23
