"""Compact storage of float-fallback weights on a tiny BiLSTM model: float16 behind DEQUANTIZE
(ecgnet_tf.export.fp16_weights) and int8 LSTM gate weights for hybrid kernels (ecgnet_tf.export.hybrid_weights)."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.export import convert as cv
from ecgnet_tf.export.fallback import FallbackConfig, choose_fallback, layer_groups, lstm_layers, try_fallback
from ecgnet_tf.export.fp16_weights import float16_weights
from ecgnet_tf.export.hybrid_weights import int8_weights
from ecgnet_tf.export.inspect import tensor_breakdown
from ecgnet_tf.export.tflite import TFLiteRunner, assert_builtin_only

T = 32  # samples per window


def _tiny_bilstm():
    """ecg + prior (1, T, 1) -> conv (16) -> BiLSTM (2 x 32) -> mean -> "probs" (3)."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    ecg = keras.Input((T, 1), batch_size=1, name="ecg")
    prior = keras.Input((T, 1), batch_size=1, name="prior")
    x = keras.layers.Concatenate(name="join")([ecg, prior])
    x = keras.layers.Conv1D(16, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(32, return_sequences=True), name="bilstm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model({"ecg": ecg, "prior": prior}, out, name="tiny_bilstm")


def _feed(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"ecg": rng.standard_normal((n, T, 1)).astype(np.float32),
            "prior": rng.random((n, T, 1)).astype(np.float32)}


@pytest.fixture(scope="module")
def tiny():
    model = _tiny_bilstm()
    f = _feed(32)

    def representative():
        for i in range(32):
            yield {"ecg": f["ecg"][i:i + 1], "prior": f["prior"][i:i + 1]}

    calibrated = cv.calibrate_model(model, representative)
    x = _feed(24, seed=1)
    return {"model": model, "calibrated": calibrated, "groups": layer_groups(calibrated), "x": x,
            "p_float": model.predict(x, verbose=0), "float32": cv.convert_model(model, "float32")}


def _lstm_weight_types(blob: bytes) -> set[int]:
    """TFLite type codes of the constant (or DEQUANTIZE-fed) weight inputs 1..8 of every sequence LSTM."""
    from ecgnet_tf.export.requant import _builtin_names, _op_name, _unpack

    model, names = _unpack(blob), _builtin_names()
    sg = model.subgraphs[0]
    producer = {int(o): op for op in sg.operators for o in op.outputs}
    types = set()
    for op in sg.operators:
        if _op_name(model, op, names) == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            for i in op.inputs[1:9]:
                src = producer.get(int(i))
                types.add(sg.tensors[src.inputs[0]].type if src is not None else sg.tensors[i].type)
    return types


def test_float16_weights_of_a_float32_model_stay_within_float16_rounding(tiny):
    f32 = tiny["float32"]
    half, rows = float16_weights(f32)
    assert rows and all(r["max_relative_error"] <= 2.0 ** -11 for r in rows)
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM"} <= {k for r in rows for k in r["readers"]}
    assert len(half) < len(f32) - sum(r["float32_bytes"] - r["stored_bytes"] for r in rows) + 4096
    assert tensor_breakdown(half)["constant_bytes"].get("float16", 0) == sum(r["stored_bytes"] for r in rows)
    assert _lstm_weight_types(half) == {1}  # float16 (TFLite type code 1) behind DEQUANTIZE
    ops = assert_builtin_only(half)
    assert ops["DEQUANTIZE"] == len(rows)
    for xnnpack in (False, True):
        p32 = TFLiteRunner(f32, xnnpack=xnnpack).predict_feed(tiny["x"])
        p16 = TFLiteRunner(half, xnnpack=xnnpack).predict_feed(tiny["x"])
        assert np.abs(p16 - p32).max() < 2e-3


def test_fallback_with_float16_weights_keeps_outputs_and_shrinks_the_file(tiny):
    args = (tiny["calibrated"], tiny["groups"], ("bilstm",), tiny["x"], tiny["p_float"], cv.quantize_calibrated)
    f32 = try_fallback(*args)
    f16 = try_fallback(*args, weights="float16")
    assert _lstm_weight_types(f32.model) == {0} and _lstm_weight_types(f16.model) == {1}
    assert f16.stored and f16.stored_summary()["readers"] == ["UNIDIRECTIONAL_SEQUENCE_LSTM"]
    saved = f16.stored_summary()["float32_bytes"] - f16.stored_summary()["stored_bytes"]
    assert f16.size_bytes < f32.size_bytes - 0.9 * saved
    assert assert_builtin_only(f16.model)  # no Flex or custom ops
    for xnnpack in (False, True):
        p32 = TFLiteRunner(f32.model, xnnpack=xnnpack).predict_feed(tiny["x"])
        p16 = TFLiteRunner(f16.model, xnnpack=xnnpack).predict_feed(tiny["x"])
        assert np.abs(p16 - p32).max() <= 2 / 256  # the int8 output step, at most twice
    # an all-int8 model has no float weights: nothing to store as float16
    base = try_fallback(tiny["calibrated"], tiny["groups"], (), tiny["x"], tiny["p_float"], cv.quantize_calibrated,
                        weights="float16")
    assert base.stored == [] and float16_weights(base.model)[0] == base.model


def test_int8_lstm_weights_run_the_hybrid_kernel_close_to_float(tiny):
    args = (tiny["calibrated"], tiny["groups"], ("bilstm",), tiny["x"], tiny["p_float"], cv.quantize_calibrated)
    f32 = try_fallback(*args)
    hyb = try_fallback(*args, weights="int8")
    assert _lstm_weight_types(hyb.model) == {9}  # int8 gate weights; the LSTM's input stays float32
    s = hyb.stored_summary()
    assert s["tensors"] == 16 and s["stored_bytes"] * 4 == s["float32_bytes"] and s["max_relative_error"] <= 0.5 / 127
    assert hyb.size_bytes < f32.size_bytes - 0.9 * (s["float32_bytes"] - s["stored_bytes"])
    assert assert_builtin_only(hyb.model)
    for xnnpack in (False, True):
        p32 = TFLiteRunner(f32.model, xnnpack=xnnpack).predict_feed(tiny["x"])
        p8 = TFLiteRunner(hyb.model, xnnpack=xnnpack).predict_feed(tiny["x"])
        assert np.abs(p8 - p32).max() <= 0.05
    # a float fully-connected layer gets int8 weights too (hybrid FULLY_CONNECTED)
    fc_args = (tiny["calibrated"], tiny["groups"], ("probs",), tiny["x"], tiny["p_float"], cv.quantize_calibrated)
    fc32, fc8 = try_fallback(*fc_args), try_fallback(*fc_args, weights="int8")
    assert [r["readers"] for r in fc8.stored] == [["FULLY_CONNECTED"]]
    p32 = TFLiteRunner(fc32.model, xnnpack=False).predict_feed(tiny["x"])
    assert np.abs(TFLiteRunner(fc8.model, xnnpack=False).predict_feed(tiny["x"]) - p32).max() <= 0.02
    # a float32 model: every sequence LSTM and fully-connected op converted, nothing else
    blob, rows = int8_weights(tiny["float32"])
    assert len(rows) == 17 and {r["readers"][0] for r in rows} == {"UNIDIRECTIONAL_SEQUENCE_LSTM", "FULLY_CONNECTED"}
    p32 = TFLiteRunner(tiny["float32"], xnnpack=False).predict_feed(tiny["x"])
    assert np.abs(TFLiteRunner(blob, xnnpack=False).predict_feed(tiny["x"]) - p32).max() <= 0.05


def test_fallback_config_weights():
    assert FallbackConfig.parse("bilstm0,bilstm1", weights="float16").weights == "float16"
    assert FallbackConfig().weights == "float32" and FallbackConfig(weights="int8").weights == "int8"
    with pytest.raises(ValueError, match="weights"):
        FallbackConfig(weights="int4")


def test_float_lstm_keeps_the_bilstm_float_in_every_candidate(tiny):
    assert lstm_layers(tiny["calibrated"], tiny["groups"]) == ("bilstm",)
    quiet = dict(log=lambda *_: None)
    for cfg in (FallbackConfig(mode="auto", lstm=True, weights="int8", target_agreement=1.01, max_layers=1),
                FallbackConfig(mode="none", lstm=True, weights="int8")):
        chosen, rep = choose_fallback(tiny["calibrated"], tiny["x"], tiny["p_float"], cfg, cv.quantize_calibrated,
                                      **quiet)
        assert chosen.layers[0] == "bilstm" and rep["lstm_layers"] == ["bilstm"] and len(chosen.layers) <= 2
        assert _lstm_weight_types(chosen.model) == {9} and rep["stored_weights"]["tensors"] == 16
        assert all(v["float_layers"][0] == "bilstm" for v in rep.get("single_layer", {}).values())
    assert FallbackConfig(lstm=True).active and not FallbackConfig().active


def test_reference_model_with_hybrid_lstm(tmp_path):
    import json

    from ecgnet_tf.export.reference_models import export_reference

    info = export_reference("edge", 360, 1, "int8", tmp_path / "edge.tflite", lstm_weights="int8")
    assert info["float_lstm"] == {"layers": ["bilstm0", "bilstm1"], "weights": "int8"}
    blob = (tmp_path / "edge.tflite").read_bytes()
    assert _lstm_weight_types(blob) == {9} and assert_builtin_only(blob)
    assert json.loads((tmp_path / "edge.json").read_text())["float_lstm"]["weights"] == "int8"
    with pytest.raises(ValueError, match="int8"):
        export_reference("edge", 360, 1, "float32", tmp_path / "f.tflite", lstm_weights="int8")
