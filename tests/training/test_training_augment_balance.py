"""Augmentations stay inside their stated ranges; SMOTE-Tomek only ever touches training data."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ecgnet_tf.synthetic import synth_ecg
from ecgnet_tf.training.augment import AugmentConfig, add_noise, add_wander, augment_batch, shift
from ecgnet_tf.training.balance import BalanceConfig, smote_tomek


def _batch(n=8, t=900):
    return tf.constant(np.stack([synth_ecg(2.5, 360, 70, seed=i).signal for i in range(n)]))


def test_noise_hits_requested_snr():
    x = _batch(16)
    snr = tf.fill([16], 20.0)
    noisy = add_noise(x, snr, tf.constant([0, 0]))
    n = (noisy - x).numpy()
    measured = 10 * np.log10(np.mean(x.numpy() ** 2, axis=(1, 2)) / np.mean(n ** 2, axis=(1, 2)))
    assert np.all(np.abs(measured - 20.0) < 0.6)


def test_augmented_snr_and_wander_within_range():
    x = _batch(32)
    cfg = AugmentConfig(p_noise=1.0, p_wander=0.0, p_shift=0.0)
    out, _ = augment_batch(x, tf.zeros_like(x), 360.0, cfg, tf.constant([1, 0]))
    n = (out - x).numpy()
    snr = 10 * np.log10(np.mean(x.numpy() ** 2, axis=(1, 2)) / np.mean(n ** 2, axis=(1, 2)))
    assert snr.min() > 14.3 and snr.max() < 25.7
    w = (add_wander(x, 360.0, tf.fill([32], 0.2), tf.fill([32], 0.15), tf.constant([1, 1])) - x).numpy()
    rng = np.ptp(x.numpy(), axis=(1, 2))
    assert np.all(np.abs(w).max(axis=(1, 2)) <= 0.15 * rng + 1e-5)
    assert np.all(np.abs(w).max(axis=(1, 2)) >= 0.10 * rng)  # 2.5 s of a 0.2 Hz wave reaches most of it


def test_augmentation_is_a_function_of_its_seed():
    x = _batch(8)
    cfg = AugmentConfig(p_noise=1.0, p_wander=1.0, p_shift=1.0)
    a = augment_batch(x, x, 360.0, cfg, tf.constant([4, 2]))[0].numpy()
    np.testing.assert_array_equal(a, augment_batch(x, x, 360.0, cfg, tf.constant([4, 2]))[0].numpy())
    assert not np.array_equal(a, augment_batch(x, x, 360.0, cfg, tf.constant([4, 3]))[0].numpy())


def test_shift_moves_ecg_and_prior_together_without_wrap():
    x = tf.constant(np.arange(20, dtype=np.float32)[None, :, None])
    y = shift(x, tf.constant([3]))
    np.testing.assert_array_equal(y.numpy()[0, :, 0], np.r_[[0, 0, 0], np.arange(17)])
    e = _batch(8)
    p = tf.constant(np.tile(np.arange(900, dtype=np.float32)[None, :, None], (8, 1, 1)))
    _, ps = augment_batch(e, p, 360.0, AugmentConfig(p_noise=0, p_wander=0, p_shift=1.0), tf.constant([3, 0]))
    moved = ps.numpy()[:, 450, 0] - 450
    assert np.all(np.abs(moved) <= 18)  # +/-50 ms at 360 Hz


def test_smote_tomek_balances_training_only():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (400, 30, 1)), rng.normal(2, 1, (20, 30, 1))]).astype(np.float32)
    y = np.array([0] * 400 + [1] * 20)
    res = smote_tomek(x, y, BalanceConfig(majority_cap=300, target=150, tomek_decimate=1), seed=0)
    assert res.counts_before == {0: 400, 1: 20}
    assert res.counts_after[1] >= 140 and res.counts_after[0] <= 300
    real = res.source >= 0
    np.testing.assert_array_equal(res.x[real], x[res.source[real]])  # originals are untouched copies
    assert (~real).sum() > 100 and np.all(res.y[~real] == 1)  # synthetic windows are minority only
    for part in ("val", "test"):
        with pytest.raises(ValueError, match="training partition"):
            smote_tomek(x, y, partition=part)


def test_smote_tomek_carries_per_window_features():
    """RR features travel with their windows: kept windows keep theirs, synthetic ones interpolate."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (300, 30, 1)), rng.normal(2, 1, (20, 30, 1))]).astype(np.float32)
    y = np.array([0] * 300 + [1] * 20)
    rr = np.concatenate([np.full((300, 2), 1.0), np.full((20, 2), 0.6)]).astype(np.float32)
    res = smote_tomek(x, y, BalanceConfig(majority_cap=200, target=100, tomek_decimate=1), seed=0, extra=rr)
    assert res.extra.shape == (len(res.y), 2)
    real = res.source >= 0
    np.testing.assert_array_equal(res.extra[real], rr[res.source[real]])
    np.testing.assert_allclose(res.extra[~real], 0.6, atol=1e-6)  # minority class: interpolated between 0.6s
    assert smote_tomek(x, y, BalanceConfig(majority_cap=200, target=100), seed=0).extra is None


def test_undersampling_keeps_real_windows_and_weights_ignore_a_handful():
    from ecgnet_tf.training.balance import cap_classes
    from ecgnet_tf.training.losses import inverse_frequency_weights

    y = np.array([0] * 500 + [1] * 40 + [4] * 3)
    keep = cap_classes(y, 100, seed=0)
    assert np.all(np.diff(keep) > 0) and np.bincount(y[keep]).tolist() == [100, 40, 0, 0, 3]
    np.testing.assert_array_equal(keep, cap_classes(y, 100, seed=0))
    assert not np.array_equal(keep, cap_classes(y, 100, seed=1))
    plain = inverse_frequency_weights(y[keep], 5)
    floored = inverse_frequency_weights(y[keep], 5, min_count=50)
    assert plain[4] / plain[0] == pytest.approx(100 / 3)  # 3 beats would outweigh 100
    assert floored[4] / floored[0] == pytest.approx(100 / 50) and floored[1] / floored[0] == pytest.approx(100 / 50)
    with pytest.raises(ValueError, match="cap"):
        cap_classes(y, 0)
