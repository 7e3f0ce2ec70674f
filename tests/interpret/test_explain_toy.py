"""Grad-CAM (via tf-keras-vis + our 1-D resampling) finds the one position a toy model relies on."""
from __future__ import annotations

import numpy as np
import pytest

import ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
import tf_keras as keras

from ecgnet_tf.interpret.cam import CamConfig, CamExplainer
from ecgnet_tf.interpret.resample import normalize01, resample_to_length

T = 240


def _data(pos: int, n: int, rng):
    x = rng.standard_normal((n, T, 1)).astype("float32") * 0.3
    y = rng.integers(0, 2, n)
    bump = np.exp(-0.5 * ((np.arange(T) - pos) / 2.0) ** 2).astype("float32") * 3.0
    x[y == 1, :, 0] += bump
    return x, y


def _toy_model(pos: int, seed: int = 0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x, y = _data(pos, 256, rng)
    inp = keras.Input((T, 1), name="ecg")
    h = keras.layers.Conv1D(8, 9, strides=2, padding="same", activation="relu", name="c1")(inp)
    h = keras.layers.Conv1D(8, 9, strides=2, padding="same", activation="relu", name="feat")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    out = keras.layers.Dense(2, activation="softmax", name="probs")(h)
    m = keras.Model(inp, out)
    m.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=15, batch_size=32, verbose=0)
    xt, yt = _data(pos, 64, rng)
    acc = float(np.mean(m.predict(xt, verbose=0).argmax(1) == yt))
    return m, xt[yt == 1][:8], acc


@pytest.fixture(scope="module")
def toy_models():
    return {pos: _toy_model(pos) for pos in (60, 170)}


@pytest.mark.parametrize("pos", [60, 170])
@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "scorecam"])
def test_cam_peaks_at_the_bump(toy_models, pos, method):
    model, x, acc = toy_models[pos]
    assert acc > 0.9, acc
    exp = CamExplainer(model, CamConfig(method=method))
    assert exp.layer == "feat" and exp.feature_length() == T // 4
    raw = exp(x, np.zeros(x.shape[:2], "float32"), np.ones(len(x), np.int64))
    heat = normalize01(resample_to_length(raw, T))
    assert heat.shape == (len(x), T) and heat.min() >= 0 and heat.max() <= 1
    peaks = heat.argmax(axis=1)
    assert np.all(np.abs(peaks - pos) <= 8), peaks  # two feature steps of 4 samples
