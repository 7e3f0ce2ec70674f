"""Export helpers without a trained run: op checks, parity maths, the TFLite runner (LSTM state reset per
window), benchmark reports, CLI errors and the thin ``python -m export.*`` entry points."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import tensorflow as tf
import tf_keras as keras

from ecgnet_tf.export import benchmark
from ecgnet_tf.export.convert import convert_model
from ecgnet_tf.export.quantize import disagreement_anatomy, parity
from ecgnet_tf.export.tflite import (
    FlexOpsError,
    ModelFileError,
    TFLiteRunner,
    _named_inputs,
    _named_outputs,
    assert_builtin_only,
    flex_ops,
    make_interpreter,
    op_histogram,
    read_tflite,
)

from repo_paths import REPO

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


def test_disagreement_anatomy_counts_pairs_margins_and_merged_classes():
    classes = ["N", "S", "V", "F"]
    flt = np.array([[0.50, 0.05, 0.05, 0.40],   # N, margin 0.10
                    [0.40, 0.05, 0.05, 0.50],   # F, margin 0.10
                    [0.10, 0.70, 0.10, 0.10],   # S
                    [0.10, 0.10, 0.80, 0.00],   # V
                    [0.45, 0.44, 0.11, 0.00]])  # N, margin 0.01
    q8 = np.array([[0.40, 0.05, 0.05, 0.50],    # N -> F: joined by the merge below
                   [0.40, 0.05, 0.05, 0.50],    # same
                   [0.10, 0.70, 0.10, 0.10],    # same
                   [0.10, 0.10, 0.80, 0.00],    # same
                   [0.44, 0.45, 0.11, 0.00]])   # N -> S: a real change of decision
    a = disagreement_anatomy(q8, flt, classes, class_merge=[0, 1, 2, 0])
    assert a["n"] == 5 and a["n_differ"] == 2
    assert a["pairs"] == {"N->F": 1, "N->S": 1}
    assert a["n_differ_between_merged_classes"] == 1
    assert a["float_margin"]["differ"]["q50"] == pytest.approx(0.055)
    assert a["float_margin"]["share_of_differ_below_0.05"] == pytest.approx(0.5)
    assert disagreement_anatomy(q8, flt, classes)["n_differ_between_merged_classes"] == 0
    same = disagreement_anatomy(flt, flt, classes)
    assert same["n_differ"] == 0 and same["pairs"] == {} and same["float_margin"]["differ"] == {}
    with pytest.raises(ValueError, match="3 class names"):
        disagreement_anatomy(q8, flt, classes[:3])


def test_tflite_runner_matches_keras(tiny_tflite):
    path, model = tiny_tflite
    rng = np.random.default_rng(1)
    ecg = rng.standard_normal((5, T, 1)).astype("float32")
    prior = rng.random((5, T)).astype("float32")
    runner = TFLiteRunner(path.read_bytes())
    assert set(runner.inputs) == {"ecg", "prior"} and list(runner.outputs) == ["probs"]
    p_tfl = runner.predict(ecg, prior)
    p_k = model.predict({"ecg": ecg, "prior": prior[..., None]}, verbose=0)
    assert p_tfl.shape == (5, 3) and p_tfl.dtype == np.float64
    np.testing.assert_allclose(p_tfl, p_k, atol=1e-5)
    np.testing.assert_array_equal(TFLiteRunner(path).predict(ecg, prior[..., None]), p_tfl)  # path, (n, T, 1) prior
    assert runner.predict(ecg[:0], prior[:0]).shape == (0, 3)


# ---------------------------------------------------------------------------------------------- LSTM state
LSTM_T = 720


@pytest.fixture(scope="module")
def lstm_model():
    """A small edge-config model (guided + spatial attention, one BiLSTM layer) at batch 1."""
    from ecgnet_tf.model import build_model, get_model_config

    keras.utils.set_random_seed(0)
    cfg = get_model_config("edge").replace(stem_filters=8, branch_filters=8, resu_depth=1, lstm_layers=1,
                                           lstm_units=8, dense_units=(8,), mhsa=False, positional="none")
    model = build_model(cfg, n_samples=LSTM_T, n_leads=1, n_classes=3, batch_size=1)
    assert any("lstm" in layer.name for layer in model.layers)
    return model


@pytest.fixture(scope="module")
def lstm_windows():
    rng = np.random.default_rng(2)
    return rng.standard_normal((2, LSTM_T, 1)).astype("float32"), rng.random((2, LSTM_T)).astype("float32")


def _fresh(blob: bytes, ecg: np.ndarray, prior: np.ndarray, xnnpack: bool = True) -> dict:
    """Outputs of one window on a brand-new interpreter (zero LSTM state), by output tensor index."""
    interp = make_interpreter(blob, xnnpack=xnnpack)
    ins, outs = _named_inputs(interp), _named_outputs(interp)
    interp.set_tensor(ins["ecg"]["index"], ecg[None].astype(np.float32))
    interp.set_tensor(ins["prior"]["index"], prior.reshape(1, -1, 1).astype(np.float32))
    interp.invoke()
    return {k: interp.get_tensor(d["index"])[0].astype(np.float64) for k, d in outs.items()}


def test_lstm_state_carries_over_without_reset(lstm_model, lstm_windows):
    """The check below is sensitive: a raw interpreter invoked twice on one window gives other outputs."""
    blob = convert_model(lstm_model, "float32")
    ops = op_histogram(blob)
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM"} & set(ops), ops
    ecg, prior = lstm_windows
    interp = make_interpreter(blob)
    ins, out = _named_inputs(interp), _named_outputs(interp)["probs"]
    interp.set_tensor(ins["ecg"]["index"], ecg[:1])
    interp.set_tensor(ins["prior"]["index"], prior[:1, :, None])
    interp.invoke()
    first = interp.get_tensor(out["index"]).copy()
    interp.invoke()
    assert np.abs(interp.get_tensor(out["index"]) - first).max() > 1e-6


def test_runner_resets_lstm_state_every_window(lstm_model, lstm_windows):
    blob = convert_model(lstm_model, "float32")
    ecg, prior = lstm_windows
    want = [_fresh(blob, ecg[i], prior[i])["probs"] for i in range(2)]
    runner = TFLiteRunner(blob)
    same = runner.predict(np.stack([ecg[0], ecg[0]]), np.stack([prior[0], prior[0]]))
    np.testing.assert_array_equal(same[0], want[0])
    np.testing.assert_array_equal(same[1], want[0])  # the same window twice: same output
    seq = runner.predict(ecg, prior)  # two different windows in sequence
    np.testing.assert_array_equal(seq, np.stack(want))
    np.testing.assert_allclose(seq, lstm_model.predict({"ecg": ecg, "prior": prior[..., None]}, batch_size=1,
                                                       verbose=0), atol=1e-4)


def test_attention_runner_resets_lstm_state_every_window(lstm_model, lstm_windows):
    from ecgnet_tf.interpret.attention import TfliteAttention, convert_attention_tflite

    blob = convert_attention_tflite(lstm_model)
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM"} & set(op_histogram(blob))
    ecg, prior = lstm_windows
    runner = TfliteAttention(blob)
    fresh = [_fresh(blob, ecg[i], prior[i], xnnpack=False) for i in range(2)]
    assert set(runner.names) == {"probs", "guided_mask", "spatial_attention"}
    outs = [runner(ecg[0], prior[0]), runner(ecg[0], prior[0]), runner(ecg[1], prior[1])]
    for got, want in zip(outs, (fresh[0], fresh[0], fresh[1])):
        np.testing.assert_array_equal(got["probs"], want["probs"])
        np.testing.assert_array_equal(got["guided_mask"], want[runner.names["guided_mask"]][..., 0])
        np.testing.assert_array_equal(got["spatial_attention"], want[runner.names["spatial_attention"]][..., 0])


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
    """``python -m export.benchmark`` from the repository root (the thin entry point) still works."""
    missing = tmp_path / "missing.tflite"
    proc = subprocess.run([sys.executable, "-m", "export.benchmark", str(missing)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {missing}: no such .tflite file"


@pytest.mark.parametrize("module", ["export.quantize", "ecgnet_tf.export.quantize", "export.golden",
                                    "export.reference_models"])
def test_entry_points_help(module):
    """The thin ``export/*`` entry points and the library commands answer --help from the repo root."""
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage: python -m export." in proc.stdout
