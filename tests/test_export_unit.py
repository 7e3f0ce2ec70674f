"""Export helpers without a trained run: op checks, parity maths, benchmark reports and CLI errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

import ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
import tensorflow as tf
import tf_keras as keras

from export import benchmark
from export.quantize import convert_model, parity
from export.tflite_io import (
    FlexOpsError,
    ModelFileError,
    TFLiteClassifier,
    assert_builtin_only,
    flex_ops,
    op_histogram,
    read_tflite,
)

T = 360


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    """A tiny builtin-only float32 model with ecgnet's input names, via the export converter."""
    keras.utils.set_random_seed(0)
    ecg = keras.Input((T, 1), batch_size=1, name="ecg")
    prior = keras.Input((T, 1), batch_size=1, name="prior")
    x = keras.layers.Concatenate()([ecg, prior])
    x = keras.layers.Conv1D(4, 7, strides=4, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model([ecg, prior], keras.layers.Dense(3, activation="softmax", name="probs")(x))
    blob = convert_model(model, "float32")
    path = tmp_path_factory.mktemp("tiny") / "tiny.tflite"
    path.write_bytes(blob)
    return path, model


@pytest.fixture(scope="module")
def flex_tflite():
    """A model that really contains a Flex op: Bincount has no builtin, so SELECT_TF_OPS keeps it."""
    @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
    def f(x):
        return tf.raw_ops.Bincount(arr=tf.cast(x, tf.int32), size=5, weights=tf.zeros([0], tf.float32))

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    return conv.convert()


def test_op_histogram_and_builtin_check_on_real_models(tiny_tflite, flex_tflite):
    ops = op_histogram(tiny_tflite[0].read_bytes())
    assert ops.get("CONV_2D", 0) >= 1 and ops.get("FULLY_CONNECTED", 0) == 1, ops
    assert assert_builtin_only(tiny_tflite[0].read_bytes()) == ops

    flex = op_histogram(flex_tflite)
    assert flex_ops(flex) == ["FlexBincount"], flex
    with pytest.raises(FlexOpsError, match="Flex"):
        assert_builtin_only(flex_tflite)


def test_builtin_check_on_op_lists():
    assert_builtin_only({"CONV_2D": 3, "UNIDIRECTIONAL_SEQUENCE_LSTM": 4})
    with pytest.raises(FlexOpsError, match="FlexBincount"):
        assert_builtin_only({"CONV_2D": 1, "FlexBincount": 1})
    with pytest.raises(FlexOpsError, match="custom"):
        assert_builtin_only(["CONV_2D", "MyCustomOp"])


def test_parity_maths():
    a = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    b = np.array([[0.8, 0.2], [0.3, 0.7], [0.3, 0.7], [0.5, 0.5]])
    p = parity(a, b)
    assert p["n"] == 4
    assert p["top1_agreement"] == pytest.approx(0.75)
    assert p["max_abs_prob_diff"] == pytest.approx(0.3)
    assert p["mean_abs_prob_diff"] == pytest.approx(np.abs(a - b).mean())
    assert parity(a, a)["top1_agreement"] == 1.0 and parity(a, a)["max_abs_prob_diff"] == 0.0
    with pytest.raises(ValueError):
        parity(a, b[:2])


def test_tflite_classifier_matches_keras(tiny_tflite):
    path, model = tiny_tflite
    rng = np.random.default_rng(1)
    ecg = rng.standard_normal((5, T, 1)).astype("float32")
    prior = rng.random((5, T)).astype("float32")
    p_tfl = TFLiteClassifier(path.read_bytes()).predict(ecg, prior)
    p_k = model.predict({"ecg": ecg, "prior": prior[..., None]}, verbose=0)
    assert p_tfl.shape == (5, 3)
    np.testing.assert_allclose(p_tfl, p_k, atol=1e-5)


def _check_result(r: dict, threads: int = 1):
    for key in ("p50_ms", "p90_ms", "p99_ms", "peak_rss_mb", "mah_per_hour", "segments_per_s",
                "ecg_seconds_per_s", "load_ms", "energy_per_inference_mj"):
        assert isinstance(r[key], float) and r[key] > 0, (key, r[key])
    assert r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"]
    assert r["threads"] == threads and isinstance(r["threads"], int)
    assert r["segment_seconds"] == pytest.approx(T / 360.0)
    assert r["ecg_seconds_per_s"] == pytest.approx(r["segments_per_s"] * T / 360.0)


def test_benchmark_cli_writes_reports(tiny_tflite, tmp_path):
    path, _ = tiny_tflite
    out = tmp_path / "b.json"
    rc = benchmark.main([str(path), "--profile", "snapdragon865", "--runs", "5", "--warmup", "1",
                         "--json", str(out), "--markdown", str(tmp_path / "b.md"), "--plot", str(tmp_path / "b.png")])
    assert rc == 0
    r = json.loads(out.read_text())
    _check_result(r)
    assert r["profile"] == "snapdragon865" and r["runs"] == 5
    est = r["profile_estimate"]
    assert est["is_estimate"] is True
    assert est["latency_scale_vs_host"] == pytest.approx(benchmark.DEFAULT_HOST_SINGLE_CORE_SCORE / 900.0)
    assert est["p50_ms"] == pytest.approx(r["p50_ms"] * est["latency_scale_vs_host"])
    # battery proxy: 720 windows/h x p50(est) x 2 W / (3.85 V * 3600 s/h) in mAh
    expected = 720 * est["p50_ms"] / 1e3 * 2.0 / (3.85 * 3.6)
    assert r["mah_per_hour"] == pytest.approx(expected)
    assert r["paper_claim_mah_per_hour"] == 2.3
    assert "per_beat" in r  # 1-s input counts as a beat model
    md = (tmp_path / "b.md").read_text()
    assert "estimate" in md and "tiny.tflite" in md and "2.3" in md
    assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_benchmark_compare_writes_ratios(tiny_tflite, tmp_path):
    path, _ = tiny_tflite
    other = tmp_path / "copy.tflite"
    other.write_bytes(path.read_bytes())
    out = tmp_path / "c.json"
    rc = benchmark.main(["--compare", str(path), str(other), "--runs", "4", "--warmup", "1", "--threads", "1",
                         "--json", str(out), "--plot", str(tmp_path / "c.png")])
    assert rc == 0
    r = json.loads(out.read_text())
    assert set(r["models"]) == {str(path), str(other)}
    for m in r["models"].values():
        _check_result(m)
        assert m["runs"] == 4
    ratios = r["ratios"]
    assert ratios["p50_vs_first"][str(path)] == 1.0
    a, b = (r["models"][k]["p50_ms"] for k in (str(path), str(other)))
    assert ratios["p50_vs_first"][str(other)] == pytest.approx(b / a)
    assert ratios["speedup"]["tiny.tflite vs copy.tflite"] == pytest.approx(b / a)
    assert ratios["speedup"]["copy.tflite vs tiny.tflite"] == pytest.approx(a / b)


@pytest.mark.parametrize("content", [None, b"", b"not a flatbuffer at all", "truncated"])
def test_benchmark_bad_model_is_one_line_exit_2(tiny_tflite, tmp_path, capsys, content):
    bad = tmp_path / "bad.tflite"
    if content == "truncated":
        bad.write_bytes(tiny_tflite[0].read_bytes()[:200])
    elif content is not None:
        bad.write_bytes(content)
    rc = benchmark.main([str(bad), "--runs", "2"])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(bad) in err and err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(ModelFileError):
        read_tflite(bad) if content != "truncated" else benchmark.run_benchmark([bad], runs=1)


def test_benchmark_cli_subprocess_missing_file(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "missing.tflite"
    proc = subprocess.run([sys.executable, "-m", "export.benchmark", str(missing)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {missing}: no such .tflite file"
