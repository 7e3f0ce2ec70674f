"""The PTB-XL record model: trees fitted on training records only, settings and fusion from validation."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.training.metrics import auroc
from ecgnet_tf.training.mi_record_model import MiRecordConfig, choose_fusion, fit_mi_record_model, fuse

SMALL = MiRecordConfig(learning_rates=(0.1,), max_leaf_nodes=(7,), max_iter=50)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    x = rng.normal(size=(n, 6))
    x[:, 0] += 1.5 * y  # one informative feature
    return x.astype(np.float32), y


def test_fuse_endpoints_and_range():
    a, b = np.array([0.1, 0.9]), np.array([0.8, 0.2])
    assert np.allclose(fuse(a, b, 1.0), a) and np.allclose(fuse(a, b, 0.0), b)
    mid = fuse(a, b, 0.5)
    assert np.all((mid > 0) & (mid < 1))
    with pytest.raises(ValueError, match="weight"):
        fuse(a, b, 1.5)


def test_trees_never_see_validation_labels():
    xt, yt = _data(300, 0)
    xv, yv = _data(120, 1)
    xs, _ = _data(50, 2)
    net = np.clip(yv * 0.6 + 0.2, 0, 1)
    a = fit_mi_record_model(xt, yt, xv, yv, net, SMALL)
    b = fit_mi_record_model(xt, yt, xv, ~yv, 1 - net, SMALL)  # other validation labels and scores
    assert np.array_equal(a.tree_scores(xs), b.tree_scores(xs))


def test_fusion_weight_maximises_validation_auc():
    xt, yt = _data(300, 0)
    xv, yv = _data(150, 1)
    rng = np.random.default_rng(5)
    network = rng.random(150)  # an uninformative network: the trees should carry the decision
    m = fit_mi_record_model(xt, yt, xv, yv, network, MiRecordConfig(max_iter=50))
    best = max(f["val_auc"] for f in m.choices["grid"])
    assert auroc(yv, m.scores(xv, network)) == pytest.approx(best)
    assert m.weight >= 0.75
    assert len(m.choices["candidates"]) == 4 and len(m.choices["grid"]) == 20
    assert m.settings in m.choices["candidates"]


def test_bad_inputs_are_named():
    xt, yt = _data(100, 0)
    with pytest.raises(ValueError, match="training records"):
        fit_mi_record_model(xt, np.zeros(100, bool), xt, yt, np.full(100, 0.5), SMALL)
    with pytest.raises(ValueError, match="network_val"):
        fit_mi_record_model(xt, yt, xt, yt, np.full(99, 0.5), SMALL)
    one_class = fit_mi_record_model(xt, yt, xt[:10], np.zeros(10, bool), np.full(10, 0.5), SMALL)
    assert one_class.weight == 0.5


def test_choose_fusion_prefers_the_best_pair_and_breaks_ties_towards_an_even_mix():
    y = np.array([0, 0, 0, 1, 1, 1], bool)
    good = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    bad = good[::-1].copy()
    i, w, table = choose_fusion(y, [bad, good], good, (0.0, 0.5, 1.0))
    assert (i, w) == (1, 0.5) and len(table) == 6  # candidate 1 with any weight is perfect: the even mix
    i, w, _ = choose_fusion(y, [bad], good, (0.0, 0.5, 1.0))
    assert (i, w) == (0, 0.0)  # only the network ranks well
