"""QAT that covers the convolutions (ecgnet_tf.export.qat): per-channel kernel rounding, which layers are
simulated, the distillation fine-tune and the copy of its weights back into a plain float model."""
from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf
import tf_keras as keras

from ecgnet_tf.export import qat
from ecgnet_tf.export.convert import Calibration, convert_model, representative_dataset
from ecgnet_tf.export.requant import repair
from ecgnet_tf.export.tflite import TFLiteRunner
from ecgnet_tf.model import build_model, get_model_config

T = 360


def _round(w: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return qat.PerChannelWeights(axes)(tf.constant(w), training=True, weights={}).numpy()


def test_per_channel_rounding_puts_each_channel_on_its_own_int8_grid():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((7, 4, 5)).astype(np.float32) * np.array([0.01, 0.1, 1, 10, 100], np.float32)
    r = _round(w, (0, 1))  # Conv1D kernel: one scale per output channel
    for c in range(5):
        scale = np.abs(w[..., c]).max() / 127
        codes = r[..., c] / scale
        assert np.allclose(codes, np.round(codes), atol=1e-3)  # on the grid
        assert np.abs(codes).max() == pytest.approx(127, abs=1e-3)  # the channel's max maps to 127
        assert np.abs(r[..., c] - w[..., c]).max() <= scale / 2 + 1e-6
    # one shared scale would flatten the small channel to zeros: per-channel keeps it
    assert np.count_nonzero(r[..., 0]) > 20


def test_depthwise_kernel_is_rounded_per_input_channel():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((15, 6, 1)).astype(np.float32) * np.arange(1, 7, dtype=np.float32)[None, :, None]
    r = _round(w, (0,))
    for c in range(6):
        assert np.abs(r[:, c, 0]).max() == pytest.approx(np.abs(w[:, c, 0]).max(), rel=1e-6)


def test_rounding_commutes_with_a_folded_batchnorm_scale():
    """The converter folds BN (gamma / sigma, any sign) into the kernel before rounding it; rounding first
    (as QAT does) must give the same kernel."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((7, 3, 8)).astype(np.float32)
    s = (rng.uniform(0.2, 3, 8) * rng.choice([-1, 1], 8)).astype(np.float32)
    assert np.allclose(_round(w * s, (0, 1)), _round(w, (0, 1)) * s, rtol=1e-5, atol=1e-6)


def test_rounding_passes_gradients_straight_through():
    w = tf.Variable(np.linspace(-1, 1, 21, dtype=np.float32).reshape(7, 1, 3))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(qat.PerChannelWeights((0, 1))(w, training=True, weights={}) * 3.0)
    assert np.allclose(tape.gradient(y, w).numpy(), 3.0)


@pytest.fixture(scope="module")
def tiny():
    """A small edge model (separable multi-scale blocks, attention, one BiLSTM) and windows for it."""
    keras.utils.set_random_seed(0)
    cfg = get_model_config("edge").replace(stem_filters=8, branch_filters=8, resu_depth=1, lstm_layers=1,
                                           lstm_units=8, dense_units=(8,), mhsa=False, positional="none")
    model = build_model(cfg, n_samples=T, n_leads=1, n_classes=3)
    _lively_weights(model, np.random.default_rng(5))
    rng = np.random.default_rng(3)
    inputs = {"ecg": rng.standard_normal((64, T, 1)).astype(np.float32),
              "prior": rng.random((64, T, 1)).astype(np.float32)}
    p = model.predict(inputs, verbose=0)
    assert p.std(axis=0).max() > 1e-3, "the test model's outputs do not depend on its input"
    return cfg, model, inputs


def _lively_weights(model, rng) -> None:
    """Weights from numpy, not from TF's seeded initialisers (which differed between processes, once leaving
    every ReLU dead and the output uniform): kernels N(0, 0.3), BatchNorm identity with beta 0.1."""
    fixed = {"moving_mean": 0.0, "moving_variance": 1.0, "gamma": 1.0, "beta": 0.1}
    for v in model.weights:
        base = v.name.split("/")[-1].split(":")[0]
        value = fixed.get(base)
        v.assign(np.full(v.shape, value, np.float32) if value is not None
                 else rng.normal(0, 0.3, v.shape).astype(np.float32))


def test_coverage_simulates_every_convolution_and_leaves_the_lstm_float(tiny):
    _, model, _ = tiny
    cov = qat.coverage(model)
    convs = [layer.name for layer in model.layers
             if isinstance(layer, (keras.layers.Conv1D, keras.layers.SeparableConv1D))
             and not isinstance(layer, keras.layers.DepthwiseConv1D)]
    assert convs and set(convs) <= set(cov["kernel"])
    bns = {layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert bns and bns <= set(cov["pass"])
    float_names = {d["name"] for d in cov["float"]}
    assert {"bilstm0", "guided_attention"} <= float_names
    assert "probs" in cov["default"] and "stem_relu" in cov["default"]


def test_qat_model_rounds_the_kernels_and_freezes_batchnorm(tiny):
    _, model, inputs = tiny
    qmodel, _ = qat.quantize_aware_convs(model)
    x = {k: v[:8] for k, v in inputs.items()}
    p_float = model.predict(x, verbose=0)
    p_q = qmodel.predict(x, verbose=0)
    assert not np.allclose(p_q, p_float, atol=1e-7)  # the rounding is really in the graph
    assert np.abs(p_q - p_float).max() < 0.2  # ... and it is int8 rounding, not noise
    bn = qmodel.get_layer("quant_stem_bn")
    assert not bn.layer.trainable  # inference statistics while fine-tuning


def test_activation_ranges_are_calibrated_from_the_float_model(tiny):
    """tfmot's moving-average ranges start at [-6, 6]; the fine-tune starts from the float model's ranges."""
    _, model, inputs = tiny
    qmodel, _ = qat.quantize_aware_convs(model)
    variables = qat.range_variables(qmodel)
    assert {"stem_relu", "ecg"} <= set(variables)
    assert float(variables["stem_relu"]["max"].numpy()) == pytest.approx(6.0)  # tfmot's start
    x = {k: v[:32] for k, v in inputs.items()}
    found = qat.calibrate_ranges(qmodel, model, x, batch_size=8)
    relu = keras.Model(model.inputs, model.get_layer("stem_relu").output)(x).numpy()
    assert found["stem_relu"] == pytest.approx((0.0, float(relu.max())), rel=1e-5)
    assert float(variables["stem_relu"]["max"].numpy()) == pytest.approx(float(relu.max()), rel=1e-5)
    assert found["ecg"] == pytest.approx((float(x["ecg"].min()), float(x["ecg"].max())), rel=1e-5)
    assert all(lo <= 0 <= hi for lo, hi in found.values())
    kmax = [v for v in qmodel.weights if v.name == "quant_dense0/kernel_max:0"][0]
    w = model.get_layer("dense0").get_weights()[0]
    assert float(kmax.numpy()) == pytest.approx(float(np.abs(w).max()), rel=1e-4)  # not tfmot's 6.0


def test_layers_the_export_keeps_float_are_not_simulated(tiny):
    _, model, _ = tiny
    cov = qat.coverage(model, ("stem_conv", "stem_relu"))
    assert {"stem_conv", "stem_relu"} <= {d["name"] for d in cov["float"]}
    assert "stem_conv" not in cov["kernel"]
    qmodel, _ = qat.quantize_aware_convs(model, ("stem_conv", "stem_relu"))
    assert "ecg" not in qat.range_variables(qmodel)  # the raw ECG only feeds the float stem: never rounded
    assert "quant_stem_conv" not in {layer.name for layer in qmodel.layers}
    with pytest.raises(ValueError, match="no layer"):
        qat.coverage(model, ("stem_cnov",))


def test_untrained_qat_weights_copy_back_exactly(tiny):
    _, model, inputs = tiny
    qmodel, _ = qat.quantize_aware_convs(model)
    back = qat.float_model_with_qat_weights(qmodel, model)
    x = {k: v[:8] for k, v in inputs.items()}
    assert np.array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_distillation_moves_the_weights_and_the_float_copy_holds_them(tiny):
    _, model, inputs = tiny
    out, info = qat.qat_fine_tune_distilled(model, inputs, multilabel=False,
                                            cfg=qat.QATConfig(epochs=1, batch_size=16, lr=1e-3), seed=0)
    assert info["windows"] == 64 and info["calibrated_ranges"] > 5 and len(info["loss"]) == 1 and np.isfinite(info["loss"][0])
    assert "stem_conv" in info["kernel_layers"] and "bilstm0" in {d["name"] for d in info["float_layers"]}
    before = model.get_layer("stem_conv").get_weights()[0]
    after = out.get_layer("stem_conv").get_weights()[0]
    assert not np.allclose(before, after)  # trained ...
    bn0 = [w.copy() for w in model.get_layer("stem_bn").get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(bn0, out.get_layer("stem_bn").get_weights()))  # ... BN frozen
    assert model.get_layer("stem_conv").get_weights()[0] is not after  # the float model itself is untouched
    assert np.array_equal(model.get_layer("stem_conv").get_weights()[0], before)


def test_a_distilled_model_converts_to_int8():
    """Conversion of the copied-back float model (no LSTM here: the exports keep BiLSTMs float anyway)."""
    keras.utils.set_random_seed(0)
    cfg = get_model_config("edge").replace(stem_filters=8, branch_filters=8, resu_depth=1, lstm_layers=0,
                                           dense_units=(8,), mhsa=False, positional="none")
    model = build_model(cfg, n_samples=T, n_leads=1, n_classes=3)
    rng = np.random.default_rng(4)
    inputs = {"ecg": rng.standard_normal((32, T, 1)).astype(np.float32),
              "prior": rng.random((32, T, 1)).astype(np.float32)}
    out, _ = qat.qat_fine_tune_distilled(model, inputs, multilabel=False,
                                         cfg=qat.QATConfig(epochs=1, batch_size=16), seed=0)
    calib = Calibration({k: v[:16] for k, v in inputs.items()}, np.zeros(16, int), np.zeros(16, int))
    b1 = build_model(cfg, n_samples=T, n_leads=1, n_classes=3, batch_size=1)
    b1.set_weights(out.get_weights())
    blob, _ = repair(convert_model(b1, "int8", representative_dataset(calib)))
    feed = {k: v[:4] for k, v in inputs.items()}
    # the reference kernels: XNNPACK aborts (double free) on this tiny int8 graph without an LSTM, QAT or not
    probs = TFLiteRunner(blob, xnnpack=False).predict_feed(feed)
    assert probs.shape == (4, 3) and np.allclose(probs.sum(1), 1, atol=0.05)
    assert np.abs(probs - out.predict(feed, verbose=0)).max() < 0.2
