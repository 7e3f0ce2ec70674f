"""Decision rules chosen on training data: class-prior factors fitted on out-of-fold predictions."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.training.tuning import beat_figures, fit_class_scale, scaled_predictions, selection_score

CLASSES = ("N", "S", "V", "F", "Q")


def _underconfident_s(n: int = 600, seed: int = 0):
    """Labels and probabilities where true S beats get only a modest S probability (a shy model)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.8, 0.1, 0.1])
    probs = np.full((n, 5), 0.01)
    probs[np.arange(n), y] = 0.9
    s = y == 1
    probs[s, 0], probs[s, 1] = 0.6, 0.35  # argmax says N for every S beat
    probs /= probs.sum(axis=1, keepdims=True)
    return y, probs


def test_beat_figures_count_by_hand():
    y = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 1, 1, 0, 2])
    f = beat_figures(y, pred, CLASSES)
    assert f["accuracy"] == pytest.approx(3 / 5)
    assert f["S"]["sensitivity"] == pytest.approx(0.5) and f["S"]["ppv"] == pytest.approx(0.5)
    assert f["V"]["f1"] == pytest.approx(1.0) and np.isnan(f["F"]["sensitivity"])


def test_fitted_scale_recovers_the_shy_class_and_never_scores_worse():
    y, probs = _underconfident_s()
    assert beat_figures(y, probs.argmax(axis=1), CLASSES)["S"]["sensitivity"] == 0.0
    fit = fit_class_scale(y, probs, CLASSES)
    assert fit.scale[1] > 1.0 and fit.scale[0] == 1.0 and fit.scale[4] == 1.0  # N and Q untouched
    after = beat_figures(y, scaled_predictions(probs, fit.scale), CLASSES)
    assert after["S"]["sensitivity"] == 1.0 and after["S"]["ppv"] == 1.0
    assert fit.score_after > fit.score_before
    assert fit.score_after == pytest.approx(selection_score(y, scaled_predictions(probs, fit.scale), CLASSES))
    assert fit_class_scale(y, probs, CLASSES) == fit  # deterministic


def test_a_calibrated_model_keeps_unit_scale():
    y = np.repeat([0, 1, 2], 50)
    probs = np.eye(5)[y] * 0.8 + 0.04
    assert fit_class_scale(y, probs, CLASSES).scale == (1.0,) * 5


def test_fit_class_scale_checks_its_inputs():
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        fit_class_scale(np.zeros(3, int), np.zeros((3, 4)), CLASSES)
    with pytest.raises(ValueError, match="not in"):
        fit_class_scale(np.zeros(3, int), np.full((3, 5), 0.2), CLASSES, tuned=("X",))


def test_unscored_classes_keep_unit_scale_by_default():
    """F is not scored by the criterion: its factor stays 1 even when raising it would hide errors."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)  # N, S, V only
    probs = np.full((300, 5), 0.05)
    probs[np.arange(300), y] = 0.5
    wrong = rng.choice(300, 60, replace=False)
    probs[wrong] = 0.05
    probs[wrong, (y[wrong] + 1) % 3] = 0.45
    probs[wrong, 3] = 0.40  # a large F factor would turn these errors into unscored F decisions
    fit = fit_class_scale(y, probs, CLASSES)
    assert fit.scale[3] == 1.0 and fit.scale[4] == 1.0
    assert fit_class_scale(y, probs, CLASSES, tuned=("F",)).scale[3] > 1.0  # what the default avoids


def test_unscored_factor_follows_accuracy_on_out_of_fold_predictions():
    """Second step: F decisions that are mostly wrong out of fold get a lower factor; right ones keep 1."""
    from ecgnet_tf.training.tuning import fit_unscored_scale

    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 400)
    probs = np.full((400, 5), 0.05)
    probs[np.arange(400), y] = 0.5
    fooled = rng.choice(400, 80, replace=False)
    probs[fooled, 3] = 0.6  # F wins on 80 beats that are not F
    base = (1.0, 1.0, 1.0, 1.0, 1.0)
    out = fit_unscored_scale(y, probs, CLASSES, base)
    assert out[3] < 0.8 and out[:3] == base[:3] and out[4] == 1.0
    assert np.mean(scaled_predictions(probs, out) == y) == 1.0
    y2 = y.copy()
    y2[fooled] = 3  # now those F decisions are right: the factor stays
    assert fit_unscored_scale(y2, probs, CLASSES, base) == base
    with pytest.raises(ValueError, match="not in"):
        fit_unscored_scale(y, probs, CLASSES, base, tuned=("X",))


def _f_holds_normal_beats(n: int = 900, seed: int = 1):
    """Out-of-fold predictions where a fifth of the N beats put most probability on F, V second."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.8, 0.1, 0.1])
    probs = np.full((n, 5), 0.01)
    probs[np.arange(n), y] = 0.9
    odd = (y == 0) & (rng.random(n) < 0.2)
    probs[odd] = [0.25, 0.01, 0.3, 0.43, 0.01]
    return y, probs / probs.sum(axis=1, keepdims=True)


def test_decision_rule_merges_f_into_the_class_its_beats_belong_to():
    from ecgnet_tf.training.tuning import fit_decision_rule, merged_probs

    y, probs = _f_holds_normal_beats()
    rule = fit_decision_rule(y, probs, CLASSES)
    assert rule.merge == (0, 1, 2, 0, 4)
    assert set(rule.options) == {"keep", "F->N", "F->S", "F->V"}
    keep = rule.options["keep"]
    kept = scaled_predictions(probs, np.array(keep["class_scale"]))
    assert keep["class_merge"] is None and np.mean(kept == y) < 0.9  # kept (scaled or not), those N beats are lost
    decided = scaled_predictions(merged_probs(probs, rule.merge), np.array(rule.scale))
    assert np.mean(decided == y) == pytest.approx(1.0) and rule.score > keep["score"]
    np.testing.assert_allclose(merged_probs(probs, rule.merge).sum(axis=1), 1.0)


def test_decision_rule_keeps_f_when_merging_does_not_help():
    from ecgnet_tf.training.tuning import fit_decision_rule

    y, probs = _underconfident_s()
    rule = fit_decision_rule(y, probs, CLASSES)
    assert rule.merge is None and rule.scale[1] > 1.0  # ties keep F; the shy S is still recovered
    with pytest.raises(ValueError, match="not in"):
        fit_decision_rule(y, probs, ("N", "S", "V"), unscored="F")
