"""Export of models with any set of named inputs: a hand-built three-input model ("ecg", "prior", "rr")
converts (float32, int8 with a named representative dataset), the TFLite runner feeds it by name
(``predict_feed``), quantises every input and resets the LSTM state per window."""
from __future__ import annotations

import numpy as np
import pytest

import tf_keras as keras

from ecgnet_tf.export import benchmark
from ecgnet_tf.export import convert as cv
from ecgnet_tf.export.tflite import TFLiteRunner, _named_inputs, io_details, make_interpreter, op_histogram

T = 360
F = 8
LSTM_OPS = {"UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM"}


def _rr(rng, n):
    """RR features as the beat tasks give them: positive seconds and ratios."""
    return rng.uniform(0.4, 1.6, size=(n, F)).astype("float32")


@pytest.fixture(scope="module")
def model3():
    """ecg (T, 1), prior (T, 1), rr (F,) -> probs (3): conv + BiLSTM (as in ecgnet) on the ECG, a dense
    branch on the log-compressed RR features; batch 1 so the LSTM lowers to the fused (stateful) builtin."""
    keras.utils.set_random_seed(0)
    ecg = keras.Input((T, 1), batch_size=1, name="ecg")
    prior = keras.Input((T, 1), batch_size=1, name="prior")
    rr = keras.Input((F,), batch_size=1, name="rr")
    x = keras.layers.Concatenate()([ecg, prior])
    x = keras.layers.Conv1D(8, 7, strides=4, activation="relu")(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(8, return_sequences=True))(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(8, activation="relu")(x)
    r = keras.layers.Lambda(lambda v: keras.backend.log(v + 1e-3))(rr)
    r = keras.layers.Dense(8, activation="relu")(r)
    h = keras.layers.Concatenate()([x, r])
    logits = keras.layers.Dense(3)(h)
    logits = keras.layers.Lambda(lambda v: 4.0 * v)(logits)  # decisive probabilities: a stable top-1
    model = keras.Model({"ecg": ecg, "prior": prior, "rr": rr},
                        keras.layers.Activation("softmax", name="probs")(logits))
    return model


@pytest.fixture(scope="module")
def feed():
    rng = np.random.default_rng(1)
    n = 8
    return {"ecg": rng.standard_normal((n, T, 1)).astype("float32"),
            "prior": rng.random((n, T, 1)).astype("float32"), "rr": _rr(rng, n)}


@pytest.fixture(scope="module")
def keras_probs(model3, feed):
    return model3.predict(feed, batch_size=1, verbose=0)


@pytest.fixture(scope="module")
def f32_blob(model3):
    return cv.convert_model(model3, "float32")


@pytest.fixture(scope="module")
def calib():
    rng = np.random.default_rng(5)
    n = 16
    inputs = {"ecg": rng.standard_normal((n, T, 1)).astype("float32"),
              "prior": rng.random((n, T, 1)).astype("float32"), "rr": _rr(rng, n)}
    return cv.Calibration(inputs, np.zeros(n, np.int64), np.array(["r"] * n, dtype=object))


def test_input_names_accept_any_names_with_ecg(model3):
    assert sorted(cv._input_names(model3)) == ["ecg", "prior", "rr"]
    a = keras.Input((T, 1), name="signal")
    b = keras.Input((F,), name="rr")
    no_ecg = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Concatenate()(
        [keras.layers.GlobalAveragePooling1D()(a), b])))
    with pytest.raises(ValueError, match="'ecg'"):
        cv._input_names(no_ecg)


def test_calibration_holds_named_arrays(calib):
    assert calib.names == ("ecg", "prior", "rr") and len(calib) == 16
    assert calib.ecg.shape == (16, T, 1) and calib.prior.shape == (16, T, 1) and calib.inputs["rr"].shape == (16, F)
    sub = calib.take([0, 3])
    assert len(sub) == 2 and np.array_equal(sub.inputs["rr"], calib.inputs["rr"][[0, 3]])
    legacy = cv.Calibration(calib.ecg, calib.prior, calib.y, calib.records)  # the older 4-argument form
    assert legacy.names == ("ecg", "prior") and np.array_equal(legacy.prior, calib.prior)
    with pytest.raises(ValueError, match="length"):
        cv.Calibration({"ecg": calib.ecg, "rr": calib.inputs["rr"][:3]}, calib.y, calib.records)
    with pytest.raises(ValueError, match="'ecg'"):
        cv.Calibration({"rr": calib.inputs["rr"]}, calib.y, calib.records)


def test_representative_dataset_yields_every_named_input(calib):
    items = list(cv.representative_dataset(calib)())
    assert len(items) == 16 and all(set(d) == {"ecg", "prior", "rr"} for d in items)
    assert items[2]["rr"].shape == (1, F) and items[2]["ecg"].shape == (1, T, 1)
    np.testing.assert_array_equal(items[2]["rr"][0], calib.inputs["rr"][2])
    assert set(next(cv.representative_dataset(calib, ["ecg", "prior"])())) == {"ecg", "prior"}
    with pytest.raises(ValueError, match="rr"):
        cv.representative_dataset(cv.Calibration(calib.ecg, calib.prior, calib.y, calib.records), ["ecg", "rr"])
    # the converter's wrapper: extra keys dropped, lists in input order, a missing input is an error
    gen = cv._named_representative(cv.representative_dataset(calib), ["ecg", "rr"])
    assert set(next(gen())) == {"ecg", "rr"}
    lists = cv._named_representative(lambda: iter([[1, 2, 3]]), ["ecg", "prior", "rr"])
    assert next(lists()) == {"ecg": 1, "prior": 2, "rr": 3}
    with pytest.raises(ValueError, match="rr"):
        next(cv._named_representative(lambda: iter([{"ecg": 1, "prior": 2}]), ["ecg", "prior", "rr"])())


def test_named_inputs_of_windows():
    class Old:
        x, prior = np.zeros((2, T, 1)), np.ones((2, T, 1))

    class New(Old):
        def named(self):
            return {"ecg": self.x, "prior": self.prior, "rr": np.zeros((2, F))}

    assert set(cv.named_inputs(Old())) == {"ecg", "prior"}
    assert set(cv.named_inputs(New())) == {"ecg", "prior", "rr"}


def test_float32_three_inputs_match_keras(f32_blob, feed, keras_probs):
    ops = op_histogram(f32_blob)
    assert LSTM_OPS & set(ops), ops
    assert not any(name.startswith("Flex") for name in ops)
    runner = TFLiteRunner(f32_blob)
    assert set(runner.input_names) == {"ecg", "prior", "rr"} and list(runner.outputs) == ["probs"]
    assert runner.input_shape("rr") == (1, F) and runner.input_shape("prior") == (1, T, 1)
    sig_inputs = set(runner.interp.get_signature_list()["serving_default"]["inputs"])
    assert sig_inputs == {"ecg", "prior", "rr"}
    p = runner.predict_feed(feed)
    assert p.shape == (8, 3) and p.dtype == np.float64
    np.testing.assert_allclose(p, keras_probs, atol=1e-5)
    # dict order, float64 values, a (n, T) prior and extra names do not matter
    shuffled = {"rr": feed["rr"].astype(np.float64), "extra": np.zeros(8), "prior": feed["prior"][..., 0],
                "ecg": feed["ecg"]}
    np.testing.assert_array_equal(runner.predict_feed(shuffled), p)
    np.testing.assert_array_equal(runner.predict(feed["ecg"], feed["prior"], rr=feed["rr"]), p)  # the wrapper
    out = runner.run_window({"ecg": feed["ecg"][3], "prior": feed["prior"][3, :, 0], "rr": feed["rr"][3]})
    np.testing.assert_array_equal(out["probs"], p[3])
    assert runner.predict_feed({k: v[:0] for k, v in feed.items()}).shape == (0, 3)
    with pytest.raises(ValueError, match="'rr'"):
        runner.predict(feed["ecg"], feed["prior"])  # a three-input model needs its rr
    with pytest.raises(ValueError, match="window count"):
        runner.predict_feed({**feed, "rr": feed["rr"][:3]})


def _fresh(blob: bytes, one: dict) -> np.ndarray:
    """Probabilities of one window on a brand-new interpreter (zero LSTM state)."""
    interp = make_interpreter(blob)
    ins = _named_inputs(interp)
    for name, d in ins.items():
        interp.set_tensor(d["index"], one[name][None].astype(np.float32))
    interp.invoke()
    out = interp.get_output_details()[0]
    return interp.get_tensor(out["index"])[0].astype(np.float64)


def test_runner_resets_lstm_state_every_window(f32_blob, feed):
    one = {k: v[0] for k, v in feed.items()}
    interp = make_interpreter(f32_blob)
    ins = _named_inputs(interp)
    assert set(ins) == {"ecg", "prior", "rr"}
    for name, d in ins.items():
        interp.set_tensor(d["index"], one[name][None])
    interp.invoke()
    out = interp.get_output_details()[0]["index"]
    first = interp.get_tensor(out).copy()
    interp.invoke()
    if np.abs(interp.get_tensor(out) - first).max() <= 1e-7:
        pytest.skip("this LSTM keeps no state between invocations; nothing to reset")
    runner = TFLiteRunner(f32_blob)
    twice = runner.predict_feed({k: np.stack([v[0], v[0]]) for k, v in feed.items()})
    want = _fresh(f32_blob, one)
    np.testing.assert_array_equal(twice[0], want)
    np.testing.assert_array_equal(twice[1], want)
    seq = runner.predict_feed({k: v[:3] for k, v in feed.items()})
    np.testing.assert_array_equal(seq, np.stack([_fresh(f32_blob, {k: v[i] for k, v in feed.items()})
                                                 for i in range(3)]))


@pytest.mark.parametrize("io", ["float", "int8"])
def test_int8_three_inputs(model3, calib, feed, keras_probs, io):
    blob = cv.convert_model(model3, "int8", cv.representative_dataset(calib), io=io)
    ops = op_histogram(blob)
    assert not any(name.startswith("Flex") for name in ops), ops
    runner = TFLiteRunner(blob, xnnpack=False)
    assert set(runner.input_names) == {"ecg", "prior", "rr"}
    details = {d["name"]: d for d in io_details(runner.interp)["inputs"]}
    if io == "int8":  # every input quantised, rr included
        assert len(details) == 3 and all(d["dtype"] == "int8" and d["scale"] > 0 for d in details.values())
        assert runner.inputs["rr"]["dtype"] == np.int8
    else:
        assert ops.get("QUANTIZE", 0) >= 1 and all(d["dtype"] == "float32" for d in details.values())
    p = runner.predict_feed(feed)
    assert p.shape == (8, 3) and np.allclose(p.sum(1), 1.0, atol=0.05)
    assert np.abs(p - keras_probs).max() < 0.1
    top2 = np.sort(keras_probs, 1)[:, -2:]
    decisive = top2[:, 1] - top2[:, 0] > 0.05  # top-1 is only defined where Keras is not a near tie
    assert decisive.sum() >= 3
    assert np.array_equal(p[decisive].argmax(1), keras_probs[decisive].argmax(1))
    assert np.mean(p.argmax(1) == keras_probs.argmax(1)) >= 0.75


def test_benchmark_random_inputs_fill_every_input(f32_blob):
    runner = TFLiteRunner(f32_blob)
    inputs = benchmark._random_inputs(runner, np.random.default_rng(0))
    assert set(inputs) == {"ecg", "prior", "rr"}
    assert inputs["rr"].shape == (1, F) and inputs["rr"].dtype == np.float32 and (inputs["rr"] > 0).all()
    runner.set_inputs(inputs)
    runner.invoke()
    assert np.isfinite(runner.get_outputs(["probs"])["probs"]).all()
    assert benchmark._segment_samples(runner) == T
