"""Metric functions against scikit-learn on fixed arrays; losses behave as defined."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from ecgnet_tf.training.metrics import auroc, challenge_score_cinc2017, classification_report, confusion_matrix

RNG = np.random.default_rng(42)
Y = RNG.integers(0, 4, size=300)
P = RNG.dirichlet(np.ones(4), size=300)
P[np.arange(300), Y] += RNG.uniform(0, 0.6, size=300)  # informative but imperfect
P /= P.sum(axis=1, keepdims=True)
CLASSES = ("N", "A", "O", "~")


def test_confusion_matrix_matches_sklearn():
    np.testing.assert_array_equal(confusion_matrix(Y, P.argmax(1), 4), skm.confusion_matrix(Y, P.argmax(1)))


def test_auroc_matches_sklearn_with_ties():
    s = np.round(P[:, 2], 1)  # heavy ties
    assert auroc(Y == 2, s) == pytest.approx(skm.roc_auc_score(Y == 2, s), abs=1e-12)
    assert np.isnan(auroc(np.zeros(5, bool), np.arange(5)))


def test_report_matches_sklearn():
    r = classification_report(Y, P, CLASSES)
    pred = P.argmax(1)
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(Y, pred))
    se = skm.recall_score(Y, pred, average=None)
    ppv = skm.precision_score(Y, pred, average=None)
    f1 = skm.f1_score(Y, pred, average=None)
    cm = skm.confusion_matrix(Y, pred)
    for i, c in enumerate(CLASSES):
        pc = r["per_class"][c]
        spec = (cm.sum() - cm[i].sum() - cm[:, i].sum() + cm[i, i]) / (cm.sum() - cm[i].sum())
        assert pc["sensitivity"] == pytest.approx(se[i])
        assert pc["ppv"] == pytest.approx(ppv[i])
        assert pc["f1"] == pytest.approx(f1[i])
        assert pc["specificity"] == pytest.approx(spec)
        assert pc["auroc"] == pytest.approx(skm.roc_auc_score(Y == i, P[:, i]))
        assert pc["support"] == int(np.sum(Y == i))
    assert r["macro"]["f1"] == pytest.approx(skm.f1_score(Y, pred, average="macro"))
    assert challenge_score_cinc2017(r["per_class"]) == pytest.approx(np.mean(f1[:3]))


def test_multilabel_report():
    t = RNG.integers(0, 2, size=(100, 3)).astype(bool)
    p = np.clip(t * 0.7 + RNG.uniform(0, 0.5, size=(100, 3)), 0, 1)
    r = classification_report(t, p, ("AMI", "IMI", "LMI"), multilabel=True)
    for i, c in enumerate(("AMI", "IMI", "LMI")):
        assert r["per_class"][c]["f1"] == pytest.approx(skm.f1_score(t[:, i], p[:, i] >= 0.5))
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(t, p >= 0.5))


def test_absent_class_gives_nan_not_a_crash():
    r = classification_report(np.array([0, 0, 1]), np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.2, 0.8, 0]]),
                              ("a", "b", "c"))
    assert np.isnan(r["per_class"]["c"]["sensitivity"]) and r["per_class"]["c"]["specificity"] == 1.0


def test_focal_loss_downweights_easy_examples():
    import tensorflow as tf

    from ecgnet_tf.training.losses import FocalLoss, WeightedCrossEntropy, inverse_frequency_weights

    y = tf.constant([[1.0, 0.0], [1.0, 0.0]])
    easy, hard = tf.constant([[0.95, 0.05], [0.95, 0.05]]), tf.constant([[0.3, 0.7], [0.3, 0.7]])
    fl, ce = FocalLoss(gamma=2.0), WeightedCrossEntropy()
    ratio_easy = float(fl(y, easy)) / float(ce(y, easy))
    ratio_hard = float(fl(y, hard)) / float(ce(y, hard))
    assert ratio_easy == pytest.approx(0.05 ** 2, rel=1e-3) and ratio_hard == pytest.approx(0.7 ** 2, rel=1e-3)
    assert float(FocalLoss(gamma=0.0)(y, hard)) == pytest.approx(float(ce(y, hard)), rel=1e-5)
    w = inverse_frequency_weights(np.array([0] * 90 + [1] * 10), 2)
    assert w[1] / w[0] == pytest.approx(9.0) and w.mean() == pytest.approx(1.0)
    cfg = FocalLoss(alpha=[0.2, 0.8], gamma=1.5).get_config()
    assert FocalLoss.from_config(cfg).alpha == [0.2, 0.8]


def test_multilabel_losses_weigh_rare_positives_up():
    import tensorflow as tf

    from ecgnet_tf.training.losses import make_loss

    y = tf.constant([[1.0, 0.0]])
    p_miss_pos = tf.constant([[0.2, 0.2]])  # misses the present label a little, absent one right-ish
    for name in ("focal", "weighted_ce"):
        rare = make_loss(name, np.ones(2), True, positive_fraction=np.array([0.1, 0.1]))
        common = make_loss(name, np.ones(2), True, positive_fraction=np.array([0.9, 0.9]))
        # a missed rare positive must cost more than a missed common positive
        assert float(rare(y, p_miss_pos)) > float(common(y, p_miss_pos))
    with pytest.raises(ValueError, match="positive fraction"):
        make_loss("focal", np.ones(2), True)
    # balanced prevalence: weighted multi-label CE equals plain binary cross-entropy
    bce = tf.keras.losses.binary_crossentropy(y, p_miss_pos)
    assert float(make_loss("weighted_ce", np.ones(2), True, positive_fraction=np.array([0.5, 0.5]))(
        y, p_miss_pos)) == pytest.approx(float(tf.reduce_mean(bce)), rel=1e-4)
