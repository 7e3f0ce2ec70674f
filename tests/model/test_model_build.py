"""Model construction: shapes, determinism, save/load, guided mask, training, size targets."""
from __future__ import annotations

import numpy as np
import pytest

import ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
import tensorflow as tf
import tf_keras as keras

from ecgnet_tf.model import (
    CONFIG_NAMES,
    LADDER,
    build_model,
    count_flops,
    count_params,
    custom_objects,
    get_model_config,
    guided_mask,
    profiler_flops,
)
from ecgnet_tf.model.layers import (
    GuidedAttention,
    PositionalEncoding,
    SpatialAttention,
    SqueezeExcitation,
    sinusoidal_table,
)


def _inputs(batch, t, c, seed=0, rr=0, morph=0):
    rng = np.random.default_rng(seed)
    ecg = rng.standard_normal((batch, t, c)).astype("float32")
    prior = rng.random((batch, t, 1)).astype("float32")
    return ([ecg, prior] + ([rng.uniform(0.3, 2.0, (batch, rr)).astype("float32")] if rr else [])
            + ([rng.uniform(-1.0, 2.0, (batch, morph)).astype("float32")] if morph else []))


@pytest.mark.parametrize("name", CONFIG_NAMES)
@pytest.mark.parametrize("leads", [12, 1])
def test_shapes_every_config(name, leads):
    keras.backend.clear_session()
    t = 360
    cfg = get_model_config(name)
    model = build_model(cfg, t, leads, 4)
    assert [i.name for i in model.inputs] == (["ecg", "prior"] + (["rr"] if cfg.rr_features else [])
                                              + (["morph"] if cfg.morph_features else []))
    assert model.output_names == ["probs"]
    y = model(_inputs(2, t, leads, rr=cfg.rr_features, morph=cfg.morph_features), training=False).numpy()
    assert y.shape == (2, 4)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("leads", [12])
def test_edge_full_length(leads):
    keras.backend.clear_session()
    model = build_model(get_model_config("edge"), 3600, leads, 5, batch_size=1)
    y = model(_inputs(1, 3600, leads), training=False).numpy()
    assert y.shape == (1, 5)
    # 3600 -> 360 (block) -> 60 (attention / BiLSTM)
    assert model.get_layer("guided_attention").output.shape[1] == 360
    assert model.get_layer("bilstm0").input.shape[1] == 60


def test_multilabel_and_dict_inputs():
    keras.backend.clear_session()
    model = build_model(get_model_config("edge"), 900, 12, 3, multilabel=True)
    ecg, prior = _inputs(2, 900, 12)
    y = model({"ecg": ecg, "prior": prior}, training=False).numpy()
    assert y.shape == (2, 3) and np.all((y > 0) & (y < 1))
    assert not np.allclose(y.sum(axis=1), 1.0)


def test_deterministic_given_seed():
    weights = []
    for _ in range(2):
        keras.backend.clear_session()
        keras.utils.set_random_seed(123)
        weights.append(build_model(get_model_config("edge"), 360, 1, 2).get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["edge", "baseline"])
def test_save_load_round_trip(tmp_path, name):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build_model(get_model_config(name), 900, 12, 3)
    x = _inputs(2, 900, 12, seed=1)
    before = model(x, training=False).numpy()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects())
    np.testing.assert_allclose(loaded(x, training=False).numpy(), before, rtol=1e-5, atol=1e-6)
    assert loaded.get_layer(index=0).name in ("ecg", "prior")


def test_layers_round_trip_standalone(tmp_path):
    keras.backend.clear_session()
    inp = keras.Input((50, 8))
    prior = keras.Input((50, 1))
    x = PositionalEncoding("learned")(inp)
    x = PositionalEncoding("sinusoidal")(x)
    x = SqueezeExcitation(4)(x)
    x = SpatialAttention(5)(x)
    x = GuidedAttention(5, init_alpha=0.5)([x, prior])
    model = keras.Model([inp, prior], x)
    data = _inputs(2, 50, 8)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects=custom_objects())
    np.testing.assert_allclose(loaded(data).numpy(), model(data).numpy(), rtol=1e-5, atol=1e-6)
    assert loaded.layers[-1].get_config()["init_alpha"] == 0.5


def test_sinusoidal_dynamic_length_matches_table():
    layer = PositionalEncoding("sinusoidal")
    x = tf.zeros((1, 17, 6))
    np.testing.assert_allclose(layer(x).numpy()[0], sinusoidal_table(17, 6), atol=1e-5)
    dyn = PositionalEncoding("sinusoidal")
    dyn.build((None, None, 6))
    np.testing.assert_allclose(dyn(x).numpy()[0], sinusoidal_table(17, 6), atol=1e-5)


def test_guided_mask_equals_prior_at_init_and_alpha_trainable():
    keras.backend.clear_session()
    cfg = get_model_config("edge")
    model = build_model(cfg, 900, 12, 2)
    ecg, prior = _inputs(2, 900, 12, seed=3)
    mask = guided_mask(model, [ecg, prior]).numpy()
    expected = prior.reshape(2, 90, cfg.pre_block_factor, 1).mean(axis=2)  # average pooling
    assert mask.shape == (2, 90, 1)
    np.testing.assert_allclose(mask, expected, rtol=1e-5, atol=1e-6)

    layer = model.get_layer("guided_attention")
    assert any(w is layer.alpha for w in layer.trainable_weights)
    assert float(layer.alpha.numpy()[0]) == 1.0
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model([ecg, prior], training=True) * [[1.0, -1.0]])
    grad = tape.gradient(loss, layer.alpha)
    assert grad is not None and float(tf.abs(grad)[0]) > 0.0


def test_training_reduces_loss():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    cfg = get_model_config("edge").replace(dropout=0.0)
    model = build_model(cfg, 360, 1, 2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)  # no tf.function tracing: faster for a handful of steps
    x = _inputs(8, 360, 1, seed=5)
    y = np.array([0, 1] * 4)
    hist = model.fit(x, y, batch_size=8, epochs=8, verbose=0).history["loss"]
    assert hist[-1] < 0.8 * hist[0], hist
    alpha = float(model.get_layer("guided_attention").alpha.numpy()[0])
    assert 0.0 <= alpha <= 1.0


def test_edge_size_targets():
    keras.backend.clear_session()
    edge = build_model(get_model_config("edge"), 3600, 12, 5)
    assert count_params(edge) <= 1_000_000
    assert count_flops(edge) <= 0.5e9


def test_separable_reduction_vs_standard_twin():
    # "+separable" == "edge" and "+guided" == "edge_standard" up to the name (see test_model_config)
    keras.backend.clear_session()
    sep = build_model(get_model_config("+separable"), 360, 12, 5)  # parameter counts do not depend on T
    std = build_model(get_model_config("+guided"), 360, 12, 5)
    assert 1 - count_params(sep) / count_params(std) >= 0.55
    assert count_flops(sep) < count_flops(std)


def test_analytic_flops_match_profiler_on_conv_dense():
    keras.backend.clear_session()
    inp = keras.Input((120, 3))
    x = keras.layers.Conv1D(8, 5, use_bias=False)(inp)
    x = keras.layers.Conv1D(4, 3, strides=2, use_bias=False)(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(6, use_bias=False)(x)
    model = keras.Model(inp, out)
    assert count_flops(model) == profiler_flops(model) > 0


def test_rr_branch_uses_the_rhythm_input():
    """edge-rr: the same beat waveform with an early (S-like) rhythm gives another output."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build_model(get_model_config("edge-rr"), 900, 1, 5)
    ecg, prior, rr = _inputs(1, 900, 1, rr=8)
    regular = np.ones((1, 8), np.float32) * np.array([0.8, 0.8, 0.8, 0.8, 1, 1, 1, 1], np.float32)
    early = regular.copy()
    early[0, [0, 4, 6]] = [0.5, 0.625, 0.625]
    a = model([ecg, prior, regular], training=False).numpy()
    b = model([ecg, prior, early], training=False).numpy()
    assert not np.allclose(a, b)
    assert model.get_layer("rr_log").get_config()["floor"] == 1e-3



def test_template_input_joins_the_rhythm_branch():
    """edge-rrt: a fourth input "morph" feeds the rhythm branch; other template rows change the output."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    cfg = get_model_config("edge-rrt")
    assert cfg.morph_features == 8 and cfg.rr_features == 8
    model = build_model(cfg, 900, 1, 5)
    assert [i.name for i in model.inputs] == ["ecg", "prior", "rr", "morph"]
    ecg, prior, rr = _inputs(1, 900, 1, rr=8)
    rr = np.full((1, 8), 0.8, np.float32)
    like = np.array([[1, 1, 0, 1, 1, 0, 0, 0]], np.float32)
    unlike = np.array([[0.3, 0.4, 0.8, 1.5, 2.0, 2.5, -0.5, 0.3]], np.float32)
    assert not np.allclose(model([ecg, prior, rr, like], training=False).numpy(),
                           model([ecg, prior, rr, unlike], training=False).numpy())
    with pytest.raises(ValueError, match="morph_features needs rr_features"):
        cfg.replace(rr_features=0)


def test_window_standardize_sees_shape_not_amplitude(tmp_path):
    """edge-rr-wn: a window and its scaled, shifted copy are the same input after WindowStandardize."""
    from ecgnet_tf.model.layers import WindowStandardize

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (2, 900, 1)).astype(np.float32)
    layer = WindowStandardize()
    a = layer(x).numpy()
    np.testing.assert_allclose(a.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(a.std(axis=1), 1.0, atol=1e-2)  # eps (1e-2) shrinks unit-variance windows a little
    exact = WindowStandardize(eps=1e-8)
    np.testing.assert_allclose(exact(x).numpy(), exact(3.0 * x + 0.7).numpy(), atol=1e-4)
    assert WindowStandardize.from_config(layer.get_config()).eps == layer.eps
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build_model(get_model_config("edge-rr-wn"), 900, 1, 5)
    ecg, prior, rr = _inputs(2, 900, 1, rr=8)
    out = model([ecg, prior, rr], training=False).numpy()
    np.testing.assert_allclose(model([2.0 * ecg + 1.0, prior, rr], training=False).numpy(), out, atol=1e-4)
    path = tmp_path / "wn.keras"
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path, custom_objects=custom_objects())(
        [ecg, prior, rr], training=False).numpy(), out, atol=1e-6)
