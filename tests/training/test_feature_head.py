"""The linear feature head: fitted on training rows, folded into one affine map, fused inside the model."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.training.feature_head import (ABSENT_CLASS_BIAS, FeatureHead, FeatureHeadConfig, attach_feature_head,
                                             fit_feature_head, fuse, head_features)


def _rows(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes told apart by the first two columns (on very different scales), plus noise columns."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 5))
    x[:, 0] = 0.8 + 0.25 * (y == 1) * -1 + 0.02 * rng.normal(size=n)  # an RR-like column in seconds
    x[:, 1] = 50.0 * (y == 2) + rng.normal(size=n)  # a column on a large scale
    return x, y


def test_the_affine_map_equals_the_fitted_regression_on_raw_rows():
    from sklearn.linear_model import LogisticRegression

    x, y = _rows()
    head = fit_feature_head(x, y, n_classes=5)
    assert head.kernel.shape == (5, 5) and head.bias.shape == (5,)
    mean, std = x.mean(0), x.std(0)
    ref = LogisticRegression(C=FeatureHeadConfig().c, class_weight="balanced", max_iter=2000).fit((x - mean) / std, y)
    p = np.exp(head.log_probs(x))
    np.testing.assert_allclose(p[:, :3], ref.predict_proba((x - mean) / std), atol=1e-6)
    assert (np.argmax(p, 1) == y).mean() > 0.95
    # classes 3 and 4 never occur in the training rows: no weights, and practically never decided
    assert np.all(head.kernel[:, 3:] == 0) and np.all(head.bias[3:] == ABSENT_CLASS_BIAS) and p[:, 3:].max() < 1e-9
    back = FeatureHead.from_dict(head.to_dict())
    np.testing.assert_array_equal(back.kernel, head.kernel)


def test_two_classes_and_bad_inputs():
    x, y = _rows()
    keep = y < 2
    head = fit_feature_head(x[keep], y[keep], n_classes=3)
    assert (np.argmax(head.log_probs(x[keep]), 1) == y[keep]).mean() > 0.95
    with pytest.raises(ValueError, match="at least two classes"):
        fit_feature_head(x[y == 0], y[y == 0], n_classes=3)
    with pytest.raises(ValueError, match="labels must lie"):
        fit_feature_head(x, y + 3, n_classes=3)
    with pytest.raises(ValueError, match="same beats"):
        head_features(np.zeros((4, 10)), np.zeros((3, 8)), rr_width=8)
    assert head_features(np.ones((4, 10)), np.zeros((4, 8)), rr_width=8).shape == (4, 16)


def test_a_class_with_too_few_rows_is_left_out_of_the_head():
    x, y = _rows()
    rare = np.flatnonzero(y == 2)[:6]  # a class with six rows, like DS1's handful of Q beats
    keep = (y != 2) | np.isin(np.arange(len(y)), rare)
    x, y = x[keep], y[keep]
    with_rare = fit_feature_head(x, y, n_classes=3, config=FeatureHeadConfig(min_class_share=0.0))
    assert with_rare.bias[2] != ABSENT_CLASS_BIAS and np.any(with_rare.kernel[:, 2] != 0)
    head = fit_feature_head(x, y, n_classes=3, config=FeatureHeadConfig(min_class_share=0.02))
    assert head.bias[2] == ABSENT_CLASS_BIAS and np.all(head.kernel[:, 2] == 0)
    assert np.exp(head.log_probs(x))[:, 2].max() < 1e-9
    assert (np.argmax(head.log_probs(x), 1) == y)[y < 2].mean() > 0.95
    # the other classes are fitted exactly as without the rare class's rows
    alone = fit_feature_head(x[y < 2], y[y < 2], n_classes=3)
    np.testing.assert_allclose(head.kernel, alone.kernel)
    assert FeatureHeadConfig().min_class_share * 34_000 > 8  # DS1's Q beats in a fold's rows


def test_fusion_weight_zero_is_the_network_and_one_is_the_head():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(4), size=20)
    q = np.log(rng.dirichlet(np.ones(4), size=20))
    np.testing.assert_allclose(fuse(p, q, 0.0), p, atol=1e-9)
    np.testing.assert_allclose(fuse(p, q, 1.0), np.exp(q), atol=1e-9)
    mid = fuse(p, q, 0.3)
    np.testing.assert_allclose(mid.sum(1), 1.0)
    with pytest.raises(ValueError, match="fusion weight"):
        fuse(p, q, 1.5)


def _tiny_model(n_classes: int = 5):
    import tf_keras as keras

    ecg = keras.Input((16, 1), name="ecg")
    prior = keras.Input((16, 1), name="prior")
    rr = keras.Input((3,), name="rr")
    morph = keras.Input((2,), name="morph")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(ecg), keras.layers.Flatten()(prior), rr, morph])
    out = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(0),
                             name="probs")(h)
    return keras.Model([ecg, prior, rr, morph], out)


def test_attached_head_runs_inside_the_model_and_survives_saving(tmp_path):
    from ecgnet_tf.runs import load_model

    model = _tiny_model()
    rng = np.random.default_rng(2)
    feed = {"ecg": rng.normal(size=(7, 16, 1)).astype(np.float32), "prior": rng.random((7, 16, 1)).astype(np.float32),
            "rr": rng.random((7, 3)).astype(np.float32), "morph": rng.normal(size=(7, 2)).astype(np.float32)}
    head = FeatureHead(rng.normal(size=(5, 5)), rng.normal(size=5))
    net = model.predict(feed, verbose=0)
    fused = attach_feature_head(model, head, 0.3)
    want = fuse(net, head.log_probs(head_features(feed["rr"], feed["morph"], 3)), 0.3)
    np.testing.assert_allclose(fused.predict(feed, verbose=0), want, atol=1e-5)
    np.testing.assert_allclose(attach_feature_head(model, head, 0.0).predict(feed, verbose=0), net, atol=1e-5)
    fused.save(tmp_path / "model.keras")
    np.testing.assert_allclose(load_model(tmp_path / "model.keras").predict(feed, verbose=0), want, atol=1e-5)
    with pytest.raises(ValueError, match="does not fit"):
        attach_feature_head(model, FeatureHead(np.zeros((4, 5)), np.zeros(5)), 0.3)


def test_the_fusion_reads_the_network_logits_and_equals_the_probability_form():
    """The fused model fuses the network's logits (no logarithm of probabilities, which int8 rounds to
    0); a model saved in the older probability form computes the same function in float."""
    import tf_keras as keras

    from ecgnet_tf.model.fusion import FUSION_LAYER, LOGITS_LAYER, copy_fusion, has_feature_head
    from ecgnet_tf.model.layers import FeatureHeadFusion

    model = _tiny_model()
    rng = np.random.default_rng(3)
    feed = {"ecg": 3 * rng.normal(size=(9, 16, 1)).astype(np.float32),
            "prior": rng.random((9, 16, 1)).astype(np.float32),
            "rr": rng.random((9, 3)).astype(np.float32), "morph": rng.normal(size=(9, 2)).astype(np.float32)}
    head = FeatureHead(rng.normal(size=(5, 5)), rng.normal(size=5))
    fused = attach_feature_head(model, head, 0.3)
    names = [layer.name for layer in fused.layers]
    assert LOGITS_LAYER in names and "probs" not in names and has_feature_head(fused) and not has_feature_head(model)
    assert fused.get_layer(FUSION_LAYER).source == "logits"
    # the older form: the fusion on the network's probabilities
    rows = keras.layers.Concatenate()([model.inputs[2], model.inputs[3]])
    old_layer = FeatureHeadFusion(5, 5, 0.3, source="probs", name=FUSION_LAYER)
    old = keras.Model(model.inputs, old_layer([model.output, rows]))
    old_layer.set_weights([head.kernel.astype(np.float32), head.bias.astype(np.float32)])
    np.testing.assert_allclose(fused.predict(feed, verbose=0), old.predict(feed, verbose=0), atol=1e-5)
    # an old-form model given to a fresh network comes back in the logits form, same outputs
    again = copy_fusion(model, old)
    assert again.get_layer(FUSION_LAYER).source == "logits"
    np.testing.assert_allclose(again.predict(feed, verbose=0), old.predict(feed, verbose=0), atol=1e-5)
    with pytest.raises(ValueError, match="source must be one of"):
        FeatureHeadFusion(5, 5, 0.3, source="scores")
