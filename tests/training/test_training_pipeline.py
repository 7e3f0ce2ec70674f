"""tf.data pipeline: shapes, seeded determinism, augmentation only when asked."""
from __future__ import annotations

import numpy as np
import pytest

from ecgnet_tf.training.augment import AugmentConfig
from ecgnet_tf.training.pipeline import make_dataset, one_hot


def _data(n=50, t=90, c=2):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, t, c)).astype(np.float32), rng.uniform(0, 1, (n, t)).astype(np.float32),
            rng.integers(0, 3, n))


def _first_epoch(ds):
    return [(b[0]["ecg"].numpy(), b[0]["prior"].numpy(), b[1].numpy()) for b in ds]


def test_shapes_and_targets():
    x, p, y = _data()
    batches = _first_epoch(make_dataset(x, p, y, 3, batch_size=16))
    assert [b[0].shape for b in batches] == [(16, 90, 2)] * 3 + [(2, 90, 2)]
    assert batches[0][1].shape == (16, 90, 1) and batches[0][2].shape == (16, 3)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)  # unshuffled: in order
    np.testing.assert_array_equal(np.concatenate([b[2] for b in batches]), one_hot(y, 3))


def test_seeded_shuffle_is_deterministic_and_keeps_pairs():
    x, p, y = _data()
    a = _first_epoch(make_dataset(x, p, y, 3, 16, shuffle=True, seed=7, epochs=1))
    b = _first_epoch(make_dataset(x, p, y, 3, 16, shuffle=True, seed=7, epochs=1))
    c = _first_epoch(make_dataset(x, p, y, 3, 16, shuffle=True, seed=8, epochs=1))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u[0], v[0])
    assert not np.array_equal(a[0][0], c[0][0])
    ea = np.concatenate([u[0] for u in a])
    ya = np.concatenate([u[2] for u in a])
    idx = [int(np.flatnonzero((x == e).all(axis=(1, 2)))[0]) for e in ea]  # every window once, label kept
    assert sorted(idx) == list(range(50))
    np.testing.assert_array_equal(ya, one_hot(y, 3)[idx])


def test_augmentation_changes_only_when_enabled():
    x, p, y = _data()
    plain = _first_epoch(make_dataset(x, p, y, 3, 50))
    aug = _first_epoch(make_dataset(x, p, y, 3, 50, augment=AugmentConfig(p_noise=1.0), fs=36.0))
    np.testing.assert_array_equal(plain[0][0], x)
    assert not np.allclose(aug[0][0], x)
    np.testing.assert_array_equal(aug[0][2], plain[0][2])  # labels untouched


def test_multilabel_targets_pass_through():
    y = np.array([[1, 0, 1], [0, 1, 0]], dtype=np.float32)
    np.testing.assert_array_equal(one_hot(y, 3), y)


def test_epochs_are_keyed_so_a_resumed_pipeline_sees_the_same_batches():
    """Epochs 2..3 of a 4-epoch stream equal a stream started at epoch 2 (resume), augmentation included."""
    x, p, y = _data()
    aug = AugmentConfig(p_noise=1.0, p_wander=1.0, p_shift=1.0)
    full = _first_epoch(make_dataset(x, p, y, 3, 16, shuffle=True, seed=5, augment=aug, fs=36.0, epochs=4))
    resumed = _first_epoch(make_dataset(x, p, y, 3, 16, shuffle=True, seed=5, augment=aug, fs=36.0, epochs=4,
                                        initial_epoch=2))
    assert len(full) == 16 and len(resumed) == 8  # 4 batches per epoch
    for u, v in zip(full[8:], resumed):
        np.testing.assert_array_equal(u[0], v[0])
        np.testing.assert_array_equal(u[1], v[1])
        np.testing.assert_array_equal(u[2], v[2])
    # epochs differ in order and in augmentation draws
    assert not np.array_equal(full[0][0], full[4][0])


def test_extra_named_inputs_are_batched_with_their_windows():
    x, p, y = _data()
    rr = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    ds = make_dataset(x, p, y, 3, 16, shuffle=True, seed=2, epochs=1, extra={"rr": rr},
                      augment=AugmentConfig(p_noise=1.0, p_shift=0.0), fs=36.0)
    for feed, _ in ds:
        assert sorted(feed) == ["ecg", "prior", "rr"] and feed["rr"].shape[1:] == (3,)
        # each window's features came with it (the unshifted prior identifies the window)
        for pr, r in zip(feed["prior"].numpy()[:, :, 0], feed["rr"].numpy()):
            i = int(np.flatnonzero((p == pr).all(axis=1))[0])
            np.testing.assert_array_equal(r, rr[i])


def test_quick_runs_execute_eagerly_and_full_runs_trace_graphs():
    from ecgnet_tf.training.fit import EAGER_MAX_STEPS, resolve_execution

    assert resolve_execution(None, quick=True, strategy="default") == "eager"
    assert resolve_execution(None, quick=True, strategy="default", planned_steps=EAGER_MAX_STEPS) == "eager"
    # a quick run with many steps (a SMOTE-balanced beat run) traces: cheaper than its eager steps
    assert resolve_execution(None, quick=True, strategy="default", planned_steps=EAGER_MAX_STEPS + 1) == "graph"
    assert resolve_execution("eager", quick=True, strategy="default", planned_steps=10 * EAGER_MAX_STEPS) == "eager"
    assert resolve_execution(None, quick=False, strategy="default") == "graph"
    assert resolve_execution(None, quick=True, strategy="mirrored") == "graph"  # strategies trace graphs
    assert resolve_execution("graph", quick=True, strategy="default") == "graph"
    assert resolve_execution("eager", quick=False, strategy="default") == "eager"
    with pytest.raises(ValueError, match="default strategy only"):
        resolve_execution("eager", quick=True, strategy="multiworker")
    with pytest.raises(ValueError, match="must be one of"):
        resolve_execution("jit", quick=True, strategy="default")


def test_a_run_predicts_the_way_it_trained(tmp_path):
    """run.json's execution reaches the loaded model; runs without the field (older, published) trace graphs."""
    import json

    import tf_keras as keras

    from ecgnet_tf.runs import load_run_model

    inp = keras.Input((4,))
    keras.Model(inp, keras.layers.Dense(2)(inp)).save(tmp_path / "model.keras")
    base = {"task": "cinc2017", "config": "edge", "model_config": {}, "preprocess": {}, "preprocess_hash": "x"}
    for extra, eager in (({"execution": "eager"}, True), ({"execution": "graph"}, False), ({}, False)):
        (tmp_path / "run.json").write_text(json.dumps({**base, **extra}))
        assert load_run_model(tmp_path).run_eagerly is eager


def test_only_the_runs_own_test_evaluation_writes_into_the_run_folder(tmp_path):
    from ecgnet_tf.training.evaluation import default_out_dir

    run = tmp_path / "run"
    assert default_out_dir(run, None, None, "test", str(tmp_path / "data")) == run
    assert default_out_dir(run, tmp_path / "data", None, "test", str(tmp_path / "data")) == run
    assert default_out_dir(run, tmp_path / "other", None, "test", str(tmp_path / "data")) == \
        run / "evaluations" / "test_data-other"
    assert default_out_dir(run, None, ["100"], "test", str(tmp_path / "data")) == run / "evaluations" / "records-100"
    assert default_out_dir(run, None, None, "val", None) == run / "evaluations" / "val"
    # a published run's run.json names no data folder: its own test set is its own wherever the data lie
    assert default_out_dir(run, tmp_path / "data", None, "test", None) == run
