"""Losses: focal loss (Lin et al. 2017) with per-class alpha, and class weights for weighted CE."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

LOSSES: tuple[str, ...] = ("focal", "ce", "weighted_ce")


def inverse_frequency_weights(y: np.ndarray, n_classes: int, min_count: float = 0.0) -> np.ndarray:
    """Per-class weights proportional to 1/frequency over the training labels, mean 1.

    ``y`` is integer labels (n,) or multi-hot (n, K). Absent classes get the largest weight. A class
    with fewer than ``min_count`` examples is weighted as if it had ``min_count``, so a handful of
    examples (MIT-BIH DS1 has 8 Q beats) cannot outweigh a whole class and destabilise training.
    """
    counts = y.sum(axis=0) if y.ndim == 2 else np.bincount(y, minlength=n_classes)
    counts = np.asarray(counts, dtype=np.float64)
    counts = np.where(counts > 0, np.maximum(counts, min_count), counts)
    inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0), 0.0)
    if np.any(counts == 0):
        inv[counts == 0] = inv.max() if inv.max() > 0 else 1.0
    return (inv / inv.mean()).astype(np.float32)


@keras.utils.register_keras_serializable(package="ecgnet")
class FocalLoss(keras.losses.Loss):
    """Categorical (or binary, for multi-label) focal loss.

    Single-label: loss = -alpha_c * (1 - p_c)^gamma * log(p_c), one-hot targets, probabilities in.
    Multi-label: per class, -alpha_c (1 - p)^gamma log(p) for a present label and
    -(1 - alpha_c) p^gamma log(1 - p) for an absent one, averaged over classes; alpha_c is the
    weight of the positive side (e.g. 1 - the label's training prevalence).
    """

    def __init__(self, alpha: Sequence[float] | None = None, gamma: float = 2.0, multilabel: bool = False,
                 name: str = "focal_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha = None if alpha is None else [float(a) for a in alpha]
        self.gamma = float(gamma)
        self.multilabel = bool(multilabel)

    def call(self, y_true, y_pred):
        eps = keras.backend.epsilon()
        y_pred = tf.clip_by_value(y_pred, eps, 1.0 - eps)
        y_true = tf.cast(y_true, y_pred.dtype)
        alpha = 1.0 if self.alpha is None else tf.constant(self.alpha, dtype=y_pred.dtype)
        if self.multilabel:
            a_pos = 0.5 if self.alpha is None else alpha
            p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
            a_t = y_true * a_pos + (1 - y_true) * (1 - a_pos)
            return tf.reduce_mean(-a_t * tf.pow(1 - p_t, self.gamma) * tf.math.log(p_t), axis=-1)
        ce = -y_true * tf.math.log(y_pred)
        return tf.reduce_sum(alpha * tf.pow(1 - y_pred, self.gamma) * ce, axis=-1)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma, "multilabel": self.multilabel}


@keras.utils.register_keras_serializable(package="ecgnet")
class WeightedCrossEntropy(keras.losses.Loss):
    """Cross-entropy with a fixed weight per class (categorical or binary multi-label).

    Multi-label: ``weights`` weigh the positive side of each label and ``1 - weights`` the
    negative side (0.5 / 0.5 is plain binary cross-entropy up to a factor 2).
    """

    def __init__(self, weights: Sequence[float] | None = None, multilabel: bool = False,
                 name: str = "weighted_ce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weights = None if weights is None else [float(w) for w in weights]
        self.multilabel = bool(multilabel)

    def call(self, y_true, y_pred):
        eps = keras.backend.epsilon()
        y_pred = tf.clip_by_value(y_pred, eps, 1.0 - eps)
        y_true = tf.cast(y_true, y_pred.dtype)
        w = 1.0 if self.weights is None else tf.constant(self.weights, dtype=y_pred.dtype)
        if self.multilabel:
            w_pos = 0.5 if self.weights is None else w
            bce = -(w_pos * y_true * tf.math.log(y_pred) + (1 - w_pos) * (1 - y_true) * tf.math.log(1 - y_pred))
            return tf.reduce_mean(2.0 * bce, axis=-1)
        return tf.reduce_sum(-w * y_true * tf.math.log(y_pred), axis=-1)

    def get_config(self):
        return {**super().get_config(), "weights": self.weights, "multilabel": self.multilabel}


def make_loss(name: str, class_weights: np.ndarray, multilabel: bool, gamma: float = 2.0,
              positive_fraction: np.ndarray | None = None) -> keras.losses.Loss:
    """Build the loss ``name`` ("focal", "ce" or "weighted_ce") from training-set statistics.

    Single-label: ``class_weights`` (inverse frequency). Multi-label: ``positive_fraction`` (each
    label's prevalence in training) gives the positive-side weight 1 - prevalence.
    """
    if multilabel and name in ("focal", "weighted_ce"):
        if positive_fraction is None:
            raise ValueError("multi-label losses need the labels' positive fraction in training")
        pos = np.clip(1.0 - np.asarray(positive_fraction, np.float64), 0.05, 0.95).tolist()
        if name == "focal":
            return FocalLoss(alpha=pos, gamma=gamma, multilabel=True)
        return WeightedCrossEntropy(weights=pos, multilabel=True)
    if name == "focal":
        alpha = class_weights / class_weights.sum()
        return FocalLoss(alpha=alpha.tolist(), gamma=gamma, multilabel=multilabel)
    if name == "weighted_ce":
        return WeightedCrossEntropy(weights=class_weights.tolist(), multilabel=multilabel)
    if name == "ce":
        return WeightedCrossEntropy(weights=None, multilabel=multilabel, name="ce")
    raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")
