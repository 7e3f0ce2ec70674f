"""The record model: inputs per record, fitting on training / validation records only, saving with a checksum."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.training.record_model import (RecordInputs, RecordModel, RecordModelConfig, challenge_f1,
                                             fit_record_model, group_by_record, summarise_probs, summarise_rows)

CLASSES = ("N", "A", "O", "~")
FAST = RecordModelConfig(learning_rates=(0.1,), max_leaf_nodes=(7,), max_iter=40, fusion_c=(0.1, 1.0))


def _inputs(n: int, seed: int, noise: float = 0.3) -> tuple[RecordInputs, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    feats = rng.standard_normal((n, 6)) * noise
    feats[np.arange(n), y] += 2.0  # one informative feature per class
    windows = rng.standard_normal((n, 8))
    network = rng.random((n, 16))
    ids = [f"R{seed}-{i}" for i in range(n)]
    return RecordInputs(ids, feats, windows, network), y


def test_group_and_summaries_keep_record_order():
    rec = np.array(["b", "a", "b", "c", "a"])
    rows = np.arange(10, dtype=float).reshape(5, 2)
    groups = group_by_record(rec, rows, ["c", "a", "b"])
    assert [g[:, 0].tolist() for g in groups] == [[6.0], [2.0, 8.0], [0.0, 4.0]]
    s = summarise_rows(groups[1])
    assert s.shape == (8,) and s[:2].tolist() == [5.0, 6.0]  # mean of the two windows
    p = summarise_probs(np.array([[0.9, 0.1], [0.5, 0.5]]))
    assert p.shape == (8,) and p[2:4].tolist() == [0.9, 0.5]
    assert summarise_rows(np.zeros((0, 3))).shape == (12,)
    with pytest.raises(ValueError, match="no windows"):
        RecordInputs.build(["x"], np.zeros((1, 2)), np.array(["y"]), np.zeros((1, 3)))


def test_challenge_f1_ignores_noise_and_counts_missing_classes_as_zero():
    y = np.array([0, 1, 2, 3])
    assert challenge_f1(y, y, CLASSES) == 1.0
    assert challenge_f1(y, np.array([0, 1, 2, 0]), CLASSES) == pytest.approx(np.mean([2 / 3, 1, 1]))
    assert challenge_f1(np.array([0, 0]), np.array([0, 0]), CLASSES) == pytest.approx(1 / 3)


def test_fit_learns_from_training_records_and_round_trips(tmp_path):
    train, y_train = _inputs(160, 0)
    val, y_val = _inputs(80, 1)
    test, y_test = _inputs(80, 2)
    rm = fit_record_model(train, y_train, val, y_val, CLASSES, FAST, log=lambda m: None)
    p = rm.predict_proba(test)
    assert p.shape == (80, 4) and np.allclose(p.sum(1), 1.0)
    assert challenge_f1(y_test, p.argmax(1), CLASSES) > 0.9
    assert rm.selection["chosen"]["feature_set"] in FAST.feature_sets and rm.selection["fusion"] is not None
    rm.save(tmp_path)
    back = RecordModel.load(tmp_path)
    assert np.array_equal(back.predict_proba(test), p)
    blob = tmp_path / "record_model" / "model.pkl"
    blob.write_bytes(blob.read_bytes() + b"x")
    with pytest.raises(ValueError, match="checksum"):
        RecordModel.load(tmp_path)


def test_validation_labels_choose_but_training_labels_teach():
    """Shuffling the validation labels may change the choices, never make the trees learn them: with
    refit disabled the trees depend only on the training records."""
    train, y_train = _inputs(160, 0)
    val, y_val = _inputs(80, 1)
    test, _ = _inputs(40, 2)
    cfg = RecordModelConfig(learning_rates=(0.1,), max_leaf_nodes=(7,), max_iter=40, fusion_c=(0.1,),
                            feature_sets=("record",), refit_with_val=False)
    a = fit_record_model(train, y_train, val, y_val, CLASSES, cfg, log=lambda m: None)
    b = fit_record_model(train, y_train, val, np.random.default_rng(5).permutation(y_val), CLASSES, cfg,
                         log=lambda m: None)
    assert np.array_equal(a.tree_probs(test), b.tree_probs(test))
    with pytest.raises(ValueError, match="two classes"):
        fit_record_model(train, np.zeros(160, np.int64), val, y_val, CLASSES, cfg, log=lambda m: None)


def test_feature_subset_is_kept_with_the_model(tmp_path):
    """feature_names: the trees see only those whole-record columns, and the saved model applies the
    same subset to full-width inputs; unknown names are refused."""
    from ecgnet_tf.preprocess.record_features import RECORD_FEATURE_NAMES
    from ecgnet_tf.training.record_model import RecordInputs, RecordModel, RecordModelConfig, fit_record_model

    rng = np.random.default_rng(0)
    n, k = 120, len(RECORD_FEATURE_NAMES)
    y = rng.integers(0, 3, n)
    feats = rng.standard_normal((n, k))
    feats[:, RECORD_FEATURE_NAMES.index("cosen")] += 6 * y  # only this column carries the label

    def inputs(idx):
        return RecordInputs([str(i) for i in idx], feats[idx], np.zeros((len(idx), 0)), np.zeros((len(idx), 0)))

    tr, va = np.arange(0, 80), np.arange(80, n)
    cfg = RecordModelConfig(feature_sets=("record",), learning_rates=(0.1,), max_leaf_nodes=(7,), max_iter=30,
                            class_weights=(None,), feature_names=("cosen", "sd1_sd2_ratio"), refit_with_val=False)
    rm = fit_record_model(inputs(tr), y[tr], inputs(va), y[va], ("N", "A", "O"), cfg, log=lambda m: None)
    assert rm.columns == (RECORD_FEATURE_NAMES.index("cosen"), RECORD_FEATURE_NAMES.index("sd1_sd2_ratio"))
    assert rm.trees.n_features_in_ == 2
    rm.save(tmp_path, "record_model-x")
    back = RecordModel.load(tmp_path) if (tmp_path / "record_model").is_dir() else None
    assert back is None  # another folder: the run's own record model is not written
    p = rm.predict_proba(inputs(va))
    assert p.shape == (len(va), 3) and np.mean(p.argmax(1) == y[va]) > 0.9
    with pytest.raises(ValueError, match="unknown record features"):
        fit_record_model(inputs(tr), y[tr], inputs(va), y[va], ("N", "A", "O"),
                         RecordModelConfig(feature_names=("nope",)), log=lambda m: None)


def test_trees_refitted_on_training_records_only_equal_a_fit_without_refit():
    """What the monitor's context fit scores validation records with: the chosen settings, trees
    taught by the training records alone (so the validation records are out of sample)."""
    train, y_train = _inputs(160, 0)
    val, y_val = _inputs(80, 1)
    test, _ = _inputs(40, 2)
    base = dict(learning_rates=(0.1,), max_leaf_nodes=(7,), max_iter=40, fusion_c=(0.1,), feature_sets=("record",),
                inner_folds=0)
    refit = fit_record_model(train, y_train, val, y_val, CLASSES, RecordModelConfig(**base), log=lambda m: None)
    plain = fit_record_model(train, y_train, val, y_val, CLASSES, RecordModelConfig(**base, refit_with_val=False),
                             log=lambda m: None)
    assert refit.selection.get("refit_with_val") and not np.array_equal(refit.tree_probs(test), plain.tree_probs(test))
    again = refit.trees_refitted(train, y_train)
    np.testing.assert_allclose(again.tree_probs(test), plain.tree_probs(test))
    with pytest.raises(ValueError, match="selection"):
        RecordModel(CLASSES, "record", plain.trees).trees_refitted(train, y_train)
