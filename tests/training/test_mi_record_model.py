"""The PTB-XL record model: trees fitted on training records only, settings and fusion from validation."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.training.metrics import auroc
from ecgnet_tf.training.mi_record_model import (MiRecordConfig, ShrunkForest, choose_fusion, fit_mi_record_model, fuse,
                                                tree_candidates)

SMALL = MiRecordConfig(learning_rates=(0.1,), max_leaf_nodes=(7,), max_iter=50, forest_min_leaf=())


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
    m = fit_mi_record_model(xt, yt, xv, yv, network, MiRecordConfig(max_iter=50, forest_trees=50))
    best = max(f["val_auc"] for f in m.choices["grid"])
    assert auroc(yv, m.scores(xv, network)) == pytest.approx(best)
    assert m.weight >= 0.75
    assert len(m.choices["candidates"]) == 6 and len(m.choices["grid"]) == 30  # 4 boosting + 2 forests, 5 weights
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


def test_forest_votes_are_shrunk_inside_zero_one_and_keep_their_ranking():
    xt, yt = _data(200, 0)
    xs, _ = _data(80, 3)
    f = ShrunkForest(n_trees=20, min_leaf=1, max_features=1.0, seed=0).fit(xt, yt)
    p = f.predict_proba(xs)
    raw = f.forest.predict_proba(xs)[:, 1]
    assert p.shape == (80, 2) and np.allclose(p.sum(axis=1), 1.0)
    assert np.all(p[:, 1] > 0) and np.all(p[:, 1] < 1) and (raw == 0).any()  # pure leaves: a raw share of 0
    assert np.allclose(p[:, 1], (20 * raw + 0.5) / 21)
    assert np.array_equal(np.argsort(p[:, 1], kind="stable"), np.argsort(raw, kind="stable"))
    assert np.all(np.isfinite(fuse(p[:, 1], np.full(80, 0.5), 0.5)))


def test_tree_candidates_hold_boosting_then_forests_with_their_settings():
    xt, yt = _data(150, 0)
    cands = tree_candidates(xt, yt, MiRecordConfig(learning_rates=(0.1,), max_leaf_nodes=(7, 15), max_iter=20,
                                                   forest_min_leaf=(2, 5), forest_trees=10))
    assert [c.settings for c in cands] == [{"model": "boosting", "learning_rate": 0.1, "max_leaf_nodes": 7},
                                           {"model": "boosting", "learning_rate": 0.1, "max_leaf_nodes": 15},
                                           {"model": "forest", "min_samples_leaf": 2},
                                           {"model": "forest", "min_samples_leaf": 5}]
    a = cands[2].scores(xt[:30])
    again = tree_candidates(xt, yt, MiRecordConfig(learning_rates=(0.1,), max_leaf_nodes=(7,), max_iter=20,
                                                   forest_min_leaf=(2,), forest_trees=10))[1].scores(xt[:30])
    assert np.array_equal(a, again)  # seeded: the same forest
    assert auroc(yt, cands[2].scores(xt)) > 0.8  # it learned the informative feature
