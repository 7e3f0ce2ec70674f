"""tf.data input pipeline over in-memory windows: shuffle, batch, augment (train only), prefetch."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from .augment import AugmentConfig, augment_batch


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels (n,) to one-hot float32 (n, K); multi-hot input (n, K) is returned as float32."""
    if y.ndim == 2:
        return y.astype(np.float32)
    return np.eye(n_classes, dtype=np.float32)[y]


def make_dataset(
    x: np.ndarray,
    prior: np.ndarray,
    y: np.ndarray | None,
    n_classes: int,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    augment: AugmentConfig | None = None,
    fs: float = 360.0,
) -> tf.data.Dataset:
    """Batches of ``({"ecg": (B, T, C), "prior": (B, T, 1)}, targets (B, K))``.

    Windows stay in numpy; each batch is gathered by index, so nothing large is baked into the
    graph. ``augment`` is applied per batch and must only be given for the training partition.
    """
    n = len(x)
    targets = one_hot(y, n_classes) if y is not None else np.zeros((n, n_classes), np.float32)
    t, c = x.shape[1], x.shape[2]

    def gather(idx):
        return x[idx], prior[idx].astype(np.float32)[..., None], targets[idx]

    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def load(idx):
        e, p, tt = tf.numpy_function(gather, [idx], (tf.float32, tf.float32, tf.float32))
        e.set_shape([None, t, c])
        p.set_shape([None, t, 1])
        tt.set_shape([None, n_classes])
        return e, p, tt

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment is not None:
        ds = ds.map(lambda e, p, tt: (*augment_batch(e, p, fs, augment), tt), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
    ds = ds.map(lambda e, p, tt: ({"ecg": e, "prior": p}, tt))
    return ds.prefetch(tf.data.AUTOTUNE)
