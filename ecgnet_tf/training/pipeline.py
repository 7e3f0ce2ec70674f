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


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the ``n`` training windows in ``epoch``: a pure function of (seed, epoch)."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, -(-n // batch_size))


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
    epochs: int | None = None,
    initial_epoch: int = 0,
    extra: dict[str, np.ndarray] | None = None,
) -> tf.data.Dataset:
    """Batches of ``({"ecg": (B, T, C), "prior": (B, T, 1)}, targets (B, K))``.

    Windows stay in numpy; each batch is gathered by index, so nothing large is baked into the
    graph. Without ``shuffle`` the windows come once, in order (evaluation). With ``shuffle``
    (training) the dataset holds epochs ``initial_epoch .. epochs - 1`` back to back, each in the
    order :func:`epoch_order` gives, and ``augment`` draws from a seed keyed by (seed, epoch, batch):
    a run and a run resumed at any epoch boundary see the same batches. ``augment`` must only be
    given for the training partition. ``extra``: further named per-window model inputs (e.g. "rr"
    (n, F)), batched with the windows and untouched by augmentation.
    """
    n = len(x)
    targets = one_hot(y, n_classes) if y is not None else np.zeros((n, n_classes), np.float32)
    t, c = x.shape[1], x.shape[2]
    steps = steps_per_epoch(n, batch_size)
    orders: dict[int, np.ndarray] = {}
    names = sorted(extra or {})
    extras = [np.asarray(extra[k]) for k in names]

    def gather(epoch, step):
        epoch, step = int(epoch), int(step)
        if shuffle:
            order = orders.get(epoch)
            if order is None:
                order = orders[epoch] = epoch_order(n, seed, epoch)
                for old in [k for k in orders if k < epoch - 1]:
                    del orders[old]
            idx = order[step * batch_size:(step + 1) * batch_size]
        else:
            idx = np.arange(step * batch_size, min(n, (step + 1) * batch_size))
        return (x[idx], prior[idx].astype(np.float32)[..., None], targets[idx],
                *(a[idx].astype(np.float32) for a in extras))

    if shuffle:
        if epochs is None:
            raise ValueError("a shuffled (training) dataset needs epochs")
        ds = tf.data.Dataset.range(initial_epoch, epochs).flat_map(
            lambda e: tf.data.Dataset.range(steps).map(lambda s: (e, s)))
    else:
        ds = tf.data.Dataset.range(-(-n // batch_size)).map(lambda s: (tf.constant(0, tf.int64), s))

    def load(epoch, step):
        e, p, tt, *ex = tf.numpy_function(gather, [epoch, step], (tf.float32,) * (3 + len(extras)))
        e.set_shape([None, t, c])
        p.set_shape([None, t, 1])
        tt.set_shape([None, n_classes])
        for a, arr in zip(ex, extras):
            a.set_shape([None, *arr.shape[1:]])
        return e, p, tt, tf.stack([tf.cast(seed, tf.int64) * 1_000_003 + epoch, step]), tuple(ex)

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment is not None:
        ds = ds.map(lambda e, p, tt, k, ex: (*augment_batch(e, p, fs, augment, k), tt, k, ex),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.map(lambda e, p, tt, k, ex: ({"ecg": e, "prior": p, **dict(zip(names, ex))}, tt))
    return ds.prefetch(tf.data.AUTOTUNE)
