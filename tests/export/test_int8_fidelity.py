"""int8 fidelity tools on tiny synthetic models: inspect finds float constants and the layer where int8
error starts, int8 scale mismatches are found and repaired, and chosen layers stay float."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet_tf.export import convert as cv
from ecgnet_tf.export import inspect as ins
from ecgnet_tf.export.fallback import FallbackConfig, choose_fallback, layer_groups, try_fallback
from ecgnet_tf.export.requant import repair, scale_mismatches
from ecgnet_tf.export.tflite import TFLiteRunner

T = 32  # samples per window of the tiny models


def _tiny(name: str = "tiny", known: float | None = None, reshape: bool = False):
    """ecg (1, T, 1) + prior -> dense "d1" (16) [-> reshape (4, 4) -> flatten] -> dense "d2" (16) -> "probs" (3)."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    ecg = keras.Input((T, 1), batch_size=1, name="ecg")
    prior = keras.Input((T, 1), batch_size=1, name="prior")
    x = keras.layers.Concatenate(name="join")([ecg, prior])
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(16, activation="relu", name="d1")(x)
    if reshape:
        x = keras.layers.Reshape((4, 4), name="fold")(x)
        x = keras.layers.Flatten(name="unfold")(x)
    x = keras.layers.Dense(16, activation="relu", name="d2")(x)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    model = keras.Model({"ecg": ecg, "prior": prior}, out, name=name)
    if known is not None:
        k, b = model.get_layer("d2").get_weights()
        model.get_layer("d2").set_weights([np.full_like(k, known), b])
    return model


def _feeds(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"ecg": rng.standard_normal((n, 1, T, 1)).astype(np.float32),
            "prior": rng.random((n, 1, T, 1)).astype(np.float32)}


def _representative(n: int = 32):
    f = _feeds(n)

    def gen():
        for i in range(n):
            yield {"ecg": f["ecg"][i], "prior": f["prior"][i]}

    return gen


def _windows(n: int, seed: int = 1) -> list[dict[str, np.ndarray]]:
    f = _feeds(n, seed)
    return [{"ecg": f["ecg"][i], "prior": f["prior"][i]} for i in range(n)]


def _batch(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    f = _feeds(n, seed)
    return {k: v[:, 0] for k, v in f.items()}


def _set_qparams(blob: bytes, tensor_part: str, scale_factor: float, zero_shift: int = 0) -> bytes:
    """``blob`` with the (scale, zero point) of the first tensor whose name contains ``tensor_part`` changed."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(blob, 0))
    t = next(t for t in model.subgraphs[0].tensors if tensor_part in t.name.decode() and t.quantization is not None
             and t.quantization.scale is not None and t.type == 9)
    t.quantization.scale = [float(t.quantization.scale[0]) * scale_factor]
    t.quantization.zeroPoint = [int(t.quantization.zeroPoint[0]) + zero_shift]
    b = flatbuffers.Builder(len(blob))
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.fixture(scope="module")
def tiny_models():
    model = _tiny(known=0.125)
    return {"model": model, "float32": cv.convert_model(model, "float32"),
            "int8": cv.convert_model(model, "int8", _representative())}


def test_inspect_finds_a_known_float_constant(tiny_models, tmp_path):
    f32 = tmp_path / "tiny_f32.tflite"
    f32.write_bytes(tiny_models["float32"])
    rep = ins.inspect_model(f32)
    d2 = [t for t in rep["tensors"] if t["shape"] == [16, 16] and t["dtype"] == "float32"]
    assert len(d2) == 1 and d2[0]["bytes"] == 16 * 16 * 4  # d2's kernel, float32
    assert rep["float_bytes"] >= 16 * 16 * 4 and rep["int8_bytes"] == 0
    assert any(t["shape"] == [16, 16] for t in rep["size"]["largest_float_constants"])
    # the same constant, in the int8 model, is int8 and no float constant is left
    i8 = tmp_path / "tiny_int8.tflite"
    i8.write_bytes(tiny_models["int8"])
    out = tmp_path / "inspect.json"
    assert ins.main([str(i8), "--json", str(out)]) == 0
    j = json.loads(out.read_text())
    assert {"float_bytes", "int8_bytes", "tensors", "ops", "layer_error"} <= set(j)
    assert j["float_bytes"] == 0 and j["int8_bytes"] >= 16 * 16 and j["layer_error"] is None
    assert any(t["shape"] == [16, 16] and t["dtype"] == "int8" for t in j["tensors"])


def test_per_layer_error_flags_the_badly_quantized_layer(tiny_models):
    good = tiny_models["int8"]
    bad = _set_qparams(good, "tiny/d2/", 1 / 16)  # d2's output scale 16x too fine: it saturates
    le_bad = ins.layer_errors(bad, tiny_models["float32"], _windows(16))
    le_good = ins.layer_errors(good, tiny_models["float32"], _windows(16))
    assert le_bad["flagged"], le_bad["worst"][:3]
    assert "/d2/" in le_bad["flagged"][0]["tensor"]  # where the error starts, not where it propagates to
    assert le_bad["flagged"][0]["added_error"] > 0.25 >= le_bad["flagged"][0]["input_error"]
    assert not any("/d2/" in r["tensor"] for r in le_good["flagged"])


def test_scale_mismatch_is_found_and_repaired():
    model = _tiny("folded", reshape=True)
    good = cv.convert_model(model, "int8", _representative())
    assert scale_mismatches(good) == []
    assert repair(good) == (good, [])
    bad = _set_qparams(good, "folded/flat/", 3.0, zero_shift=20)  # a RESHAPE output in other units
    rows = scale_mismatches(bad)
    assert [r["op"] for r in rows] == ["RESHAPE"] and rows[0]["relative_value_error"] > 0.1
    fixed, repaired = repair(bad)
    assert len(repaired) == 1 and scale_mismatches(fixed) == []
    x = _batch(24)
    p_good, p_bad, p_fixed = (TFLiteRunner(m, xnnpack=False).predict_feed(x) for m in (good, bad, fixed))
    assert np.abs(p_fixed - p_good).max() < 0.1 < np.abs(p_bad - p_good).max()


def test_float_fallback_keeps_the_chosen_layers_float():
    model = _tiny("fb")
    calibrated = cv.calibrate_model(model, _representative())
    groups = layer_groups(calibrated)
    assert {"d1", "d2", "probs"} <= set(groups)
    x = _batch(24)
    p_float = model.predict(x, verbose=0)
    quantize = cv.quantize_calibrated
    all_int8 = try_fallback(calibrated, groups, (), x, p_float, quantize)
    d2 = try_fallback(calibrated, groups, ("d2",), x, p_float, quantize)
    assert d2.size_bytes > all_int8.size_bytes  # a float32 kernel instead of an int8 one
    assert ins.op_report(d2.model)["float_input_ops"].get("FULLY_CONNECTED") == 1
    assert "FULLY_CONNECTED" not in ins.op_report(all_int8.model)["float_input_ops"]
    with pytest.raises(ValueError, match="unknown layer"):
        try_fallback(calibrated, groups, ("nope",), x, p_float, quantize)
    chosen, rep = choose_fallback(calibrated, x, p_float, FallbackConfig(mode="auto", target_agreement=1.01,
                                                                          max_layers=1), quantize, log=lambda *_: None)
    assert len(chosen.layers) <= 1 and rep["all_int8"]["size_bytes"] == all_int8.size_bytes
    assert rep["size_cost_bytes"] == chosen.size_bytes - all_int8.size_bytes
    assert FallbackConfig.parse("d1, d2").layers == ("d1", "d2") and FallbackConfig.parse("auto").mode == "auto"


def test_latency_sections_line_up_int8_and_float32(tiny_models):
    from ecgnet_tf.export.profile import _ops, compare_sections, truncate

    i8, f32 = tiny_models["int8"], tiny_models["float32"]
    cut = truncate(f32, 1)
    assert len(_ops(cut)) == 2 and TFLiteRunner(cut, xnnpack=False).interp.get_output_details()
    r = compare_sections(i8, f32, sections=3, runs=3, warmup=1)
    assert r["sections"][-1]["ops"].endswith(str(r["n_ops"] - 1))
    assert sum(sum(s["op_types"].values()) for s in r["sections"]) == r["n_ops"]
    assert r["sections"][-1]["int8_cumulative_ms"] > 0 and r["sections"][-1]["float32_cumulative_ms"] > 0
    with pytest.raises(ValueError, match="not the same graph"):
        compare_sections(i8, cut, sections=2, runs=1)


def test_module_groups_are_tried_whole_by_auto():
    from ecgnet_tf.export.fallback import module_groups, module_layers

    model = _tiny("mod")
    mods = module_layers(model)
    assert mods == {"head": tuple(layer.name for layer in model.layers if type(layer).__name__ == "Dense")}
    assert module_layers(model, {"absent": ("LSTM",)}) == {}
    calibrated = cv.calibrate_model(model, _representative())
    groups = layer_groups(calibrated)
    both = module_groups(groups, mods)
    assert both["[head]"] == [n for layer in mods["head"] for n in groups.get(layer, [])] and set(groups) < set(both)
    x = _batch(24)
    p_float = model.predict(x, verbose=0)
    quantize = cv.quantize_calibrated
    whole = try_fallback(calibrated, both, ("[head]",), x, p_float, quantize)
    assert ins.op_report(whole.model)["float_input_ops"].get("FULLY_CONNECTED") == len(mods["head"])
    _, rep = choose_fallback(calibrated, x, p_float, FallbackConfig(mode="auto", target_agreement=1.01, max_layers=1),
                             quantize, log=lambda *_: None, modules=mods)
    assert "[head]" in rep["layers_available"] and "[head]" in rep["single_layer"]
    _, plain = choose_fallback(calibrated, x, p_float, FallbackConfig(mode="layers", layers=("d1",)), quantize,
                               log=lambda *_: None, modules=mods)
    assert "[head]" not in plain["layers_available"]  # modules are candidates of auto only


def test_speed_layers_stay_float_in_every_candidate():
    model = _tiny("speed")
    calibrated = cv.calibrate_model(model, _representative())
    x = _batch(24)
    p_float = model.predict(x, verbose=0)
    quantize, quiet = cv.quantize_calibrated, (lambda *_: None)
    cfg = FallbackConfig(speed_layers=("d1",))
    assert cfg.active and not FallbackConfig().active
    chosen, rep = choose_fallback(calibrated, x, p_float, cfg, quantize, log=quiet)
    assert chosen.layers == ("d1",) and rep["speed_layers"] == ["d1"] and rep["lstm_layers"] == []
    assert ins.op_report(chosen.model)["float_input_ops"].get("FULLY_CONNECTED") == 1
    # auto builds on them: every candidate keeps d1 float, and the greedy choice adds to it
    auto, rep = choose_fallback(calibrated, x, p_float, FallbackConfig(mode="auto", target_agreement=1.01, max_layers=1,
                                                                       speed_layers=("d1",)), quantize, log=quiet)
    assert auto.layers[0] == "d1" and "d1" not in rep["single_layer"]
    assert all(step["float_layers"][0] == "d1" for step in rep["steps"])
    with pytest.raises(ValueError, match="unknown layer"):
        choose_fallback(calibrated, x, p_float, FallbackConfig(speed_layers=("nope",)), quantize, log=quiet)


def test_quantize_cli_takes_speed_layers_for_int8_only(tmp_path, capsys):
    from ecgnet_tf.export.fallback import parse_layers
    from ecgnet_tf.export.quantize import main

    assert parse_layers(" stem_conv, mhsa_norm ,") == ("stem_conv", "mhsa_norm") and parse_layers(None) == ()
    rc = main([str(tmp_path), "--mode", "float32", "--float-for-speed", "stem_conv"])
    assert rc != 0 and "--float-for-speed need --mode int8" in capsys.readouterr().err
