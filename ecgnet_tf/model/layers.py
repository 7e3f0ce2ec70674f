"""Custom Keras layers of the ecgnet network, one small layer per idea.

All layers are channels-last (``(batch, time, channels)``), registered under the ``ecgnet``
package for ``.keras`` save/load, and expose ``flops(input_shape) -> int`` (FLOPs for one sample,
2 per multiply-accumulate, 1 per element-wise op) used by :mod:`ecgnet_tf.model.flops`.
The multi-scale / ResU blocks are built from stock Keras layers by helpers in
:mod:`ecgnet_tf.model.build`, so their convolutions stay visible in the functional graph.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

PACKAGE = "ecgnet"


def _register(cls):
    return keras.utils.register_keras_serializable(package=PACKAGE)(cls)


def _channel_descriptor(x):
    """Average and max over channels, stacked: (batch, T, 2)."""
    return tf.concat(
        [tf.reduce_mean(x, axis=-1, keepdims=True), tf.reduce_max(x, axis=-1, keepdims=True)],
        axis=-1,
    )


def _shape(input_shape):
    return tf.TensorShape(input_shape).as_list()


@_register
class ClipToUnit(keras.constraints.Constraint):
    """Keeps a weight inside ``[min_value, max_value]`` (default [0, 1]) after every update."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0):
        self.min_value = float(min_value)
        self.max_value = float(max_value)

    def __call__(self, w):
        return tf.clip_by_value(w, self.min_value, self.max_value)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value}


@_register
class SqueezeExcitation(keras.layers.Layer):
    """Channel attention: global average over time -> FC(C/r, ReLU) -> FC(C, sigmoid) -> scale."""

    def __init__(self, reduction: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.reduction = int(reduction)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = max(1, channels // self.reduction)
        self.squeeze_kernel = self.add_weight(
            name="squeeze_kernel", shape=(channels, hidden), initializer="glorot_uniform")
        self.squeeze_bias = self.add_weight(name="squeeze_bias", shape=(hidden,), initializer="zeros")
        self.excite_kernel = self.add_weight(
            name="excite_kernel", shape=(hidden, channels), initializer="glorot_uniform")
        self.excite_bias = self.add_weight(name="excite_bias", shape=(channels,), initializer="zeros")
        super().build(input_shape)

    def channel_weights(self, x):
        """Per-channel gates in (0, 1): (batch, 1, C)."""
        s = tf.reduce_mean(x, axis=1)
        s = tf.nn.relu(tf.matmul(s, self.squeeze_kernel) + self.squeeze_bias)
        s = tf.sigmoid(tf.matmul(s, self.excite_kernel) + self.excite_bias)
        return s[:, tf.newaxis, :]

    def call(self, x):
        return x * self.channel_weights(x)

    def flops(self, input_shape) -> int:
        _, t, c = _shape(input_shape)
        h = max(1, c // self.reduction)
        return t * c + 2 * (c * h + h * c) + 2 * h + 2 * c + t * c

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}


@_register
class SpatialAttention(keras.layers.Layer):
    """Attention over time: [mean, max] over channels -> Conv1D(1, k) -> sigmoid -> multiply."""

    def __init__(self, kernel_size: int = 7, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, 2, 1), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")
        super().build(input_shape)

    def attention_map(self, x):
        """The temporal attention map in (0, 1): (batch, T, 1)."""
        logits = tf.nn.conv1d(_channel_descriptor(x), self.kernel, stride=1, padding="SAME")
        return tf.sigmoid(logits + self.bias)

    def call(self, x):
        return x * self.attention_map(x)

    def flops(self, input_shape) -> int:
        _, t, c = _shape(input_shape)
        return 2 * t * c + 2 * t * self.kernel_size * 2 + 2 * t + t * c

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


@_register
class GuidedAttention(keras.layers.Layer):
    """Prior-guided spatial attention over time.

    Inputs ``[x, prior]`` with ``x`` (batch, T, C) and ``prior`` (batch, T, 1) in [0, 1] (already
    down-sampled to the feature resolution). The mask blends the physiological prior with a learned
    spatial-attention map::

        learned = sigmoid(Conv1D_k([mean_c(x), max_c(x)]))
        mask    = alpha * prior + (1 - alpha) * learned          # in [0, 1]
        output  = x * (1 + mask)

    ``alpha`` is a trainable scalar kept in [0, 1] by a clip constraint and initialised to
    ``init_alpha`` (default 1.0), so at initialisation the mask *equals* the prior; training can
    move it towards the learned map. Multiplying by ``1 + mask`` (rather than ``mask``) emphasises
    the prior zones without zeroing the rest of the signal, which a hard prior would do.
    """

    def __init__(self, kernel_size: int = 7, init_alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        self.init_alpha = float(init_alpha)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, 2, 1), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")
        self.alpha = self.add_weight(
            name="alpha",
            shape=(1,),
            initializer=keras.initializers.Constant(self.init_alpha),
            constraint=ClipToUnit(0.0, 1.0),
            trainable=True,
        )
        super().build(input_shape)

    def blend_weight(self):
        """The blend weight alpha, clipped to [0, 1]."""
        return tf.clip_by_value(self.alpha, 0.0, 1.0)

    def compute_mask_values(self, x, prior):
        """The guidance mask (batch, T, 1) for features ``x`` and the down-sampled ``prior``."""
        x = tf.convert_to_tensor(x)
        prior = tf.cast(tf.convert_to_tensor(prior), x.dtype)
        logits = tf.nn.conv1d(_channel_descriptor(x), self.kernel, stride=1, padding="SAME")
        learned = tf.sigmoid(logits + self.bias)
        alpha = self.blend_weight()
        return alpha * prior + (1.0 - alpha) * learned

    def call(self, inputs):
        x, prior = inputs
        return x * (1.0 + self.compute_mask_values(x, prior))

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[0])

    def flops(self, input_shape) -> int:
        _, t, c = _shape(input_shape[0])
        return 2 * t * c + 2 * t * self.kernel_size * 2 + 2 * t + 4 * t + 2 * t * c

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "init_alpha": self.init_alpha}


def sinusoidal_table(length: int, dim: int) -> np.ndarray:
    """The classic sin/cos positional table (length, dim), float32."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    i = np.arange(dim, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, (2.0 * (i // 2)) / max(dim, 1))
    table = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    return table.astype(np.float32)


@_register
class PositionalEncoding(keras.layers.Layer):
    """Adds positional information before self-attention.

    ``mode="sinusoidal"``: fixed sin/cos table (no weights; works for any length, a constant when
    the length is static). ``mode="learned"``: a trainable (T, C) table; needs a static T.
    """

    def __init__(self, mode: str = "sinusoidal", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("sinusoidal", "learned"):
            raise ValueError(f"mode must be 'sinusoidal' or 'learned', got {mode!r}")
        self.mode = mode

    def build(self, input_shape):
        _, t, c = _shape(input_shape)
        self._table = None
        if self.mode == "learned":
            if t is None:
                raise ValueError("learned positional encoding needs a static sequence length")
            self.table = self.add_weight(
                name="table", shape=(t, c),
                initializer=keras.initializers.RandomNormal(stddev=0.02))
        elif t is not None:
            self._table = tf.constant(sinusoidal_table(t, c))
        super().build(input_shape)

    def call(self, x):
        if self.mode == "learned":
            return x + tf.cast(self.table, x.dtype)[tf.newaxis]
        if self._table is not None:
            return x + tf.cast(self._table, x.dtype)[tf.newaxis]
        t, c = tf.shape(x)[1], x.shape[-1]
        pos = tf.cast(tf.range(t), tf.float32)[:, None]
        i = tf.range(c)[None, :]
        angle = pos / tf.pow(10000.0, tf.cast(2 * (i // 2), tf.float32) / float(max(c, 1)))
        table = tf.where(i % 2 == 0, tf.sin(angle), tf.cos(angle))
        return x + tf.cast(table, x.dtype)[tf.newaxis]

    def flops(self, input_shape) -> int:
        _, t, c = _shape(input_shape)
        return t * c

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@_register
class LogCompress(keras.layers.Layer):
    """``log(max(x, floor))`` element-wise: RR intervals (s) and their ratios become roughly symmetric
    around 0 (a regular rhythm's ratios of 1 map to 0) before the rhythm branch's dense layers."""

    def __init__(self, floor: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        if floor <= 0:
            raise ValueError("floor must be positive")
        self.floor = float(floor)

    def call(self, x):
        return tf.math.log(tf.maximum(x, self.floor))

    def get_config(self):
        return {**super().get_config(), "floor": self.floor}


@_register
class WindowStandardize(keras.layers.Layer):
    """Per-window, per-lead standardisation over time: ``(x - mean_t x) / sqrt(var_t x + eps)``.

    Removes each window's own offset and amplitude scale (patients differ in QRS amplitude), so the
    morphology branch sees shape only; ``eps`` is in the input's squared units (z-scored mV).
    """

    def __init__(self, eps: float = 1e-2, **kwargs):
        super().__init__(**kwargs)
        if eps <= 0:
            raise ValueError("eps must be positive")
        self.eps = float(eps)

    def call(self, x):
        mean = tf.reduce_mean(x, axis=1, keepdims=True)
        centred = x - mean
        var = tf.reduce_mean(tf.square(centred), axis=1, keepdims=True)
        return centred * tf.math.rsqrt(var + self.eps)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@_register
class FeatureHeadFusion(keras.layers.Layer):
    """A fixed linear classifier on a beat's feature rows, fused with the network's output.

    Inputs ``[net (B, K), features (B, F)]``; output ``softmax((1 - w) log p + w log_softmax(features
    @ kernel + bias))``, where ``log p`` is the network's log-probabilities floored at ``log(floor)``:
    ``w = 0`` gives the network's probabilities back, ``w = 1`` the linear head's. ``source`` says what
    ``net`` is: ``"logits"`` (the network's last layer without its softmax; ``log p`` =
    ``log_softmax(net)``, which int8 represents well) or ``"probs"`` (its probabilities; ``log p`` =
    ``log(net)``, the form of models saved before the logits form: int8 rounds small probabilities to
    0, so their logarithm is badly off). The two are the same function of the network in float.
    ``kernel`` (F, K) and ``bias`` (K,) are non-trainable weights set after construction
    (:func:`ecgnet_tf.model.fusion.fuse_feature_head`).
    """

    SOURCES = ("logits", "probs")

    def __init__(self, n_features: int, n_classes: int, weight: float, floor: float = 1e-6,
                 source: str = "probs", **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"fusion weight must lie in [0, 1], got {weight}")
        if n_features < 1 or n_classes < 2:
            raise ValueError(f"need n_features >= 1 and n_classes >= 2, got {n_features} and {n_classes}")
        if source not in self.SOURCES:
            raise ValueError(f"source must be one of {self.SOURCES}, got {source!r}")
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.weight, self.floor, self.source = float(weight), float(floor), source
        self.kernel = self.add_weight(name="kernel", shape=(self.n_features, self.n_classes),
                                      initializer="zeros", trainable=False)
        self.bias = self.add_weight(name="bias", shape=(self.n_classes,), initializer="zeros", trainable=False)

    def call(self, inputs):
        net, feats = inputs
        head = tf.nn.log_softmax(tf.matmul(feats, self.kernel) + self.bias, axis=-1)
        if self.source == "logits":
            log_p = tf.maximum(tf.nn.log_softmax(net, axis=-1), math.log(self.floor))
        else:
            log_p = tf.math.log(tf.maximum(net, self.floor))
        return tf.nn.softmax((1.0 - self.weight) * log_p + self.weight * head, axis=-1)

    def flops(self, input_shape) -> int:
        return 2 * self.n_features * self.n_classes + 8 * self.n_classes

    def get_config(self):
        return {**super().get_config(), "n_features": self.n_features, "n_classes": self.n_classes,
                "weight": self.weight, "floor": self.floor, "source": self.source}


@_register
class TakeColumns(keras.layers.Layer):
    """Columns ``start .. stop - 1`` of a (B, F) row: the part of a wider input a sub-network reads."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= start < stop:
            raise ValueError(f"need 0 <= start < stop, got {start} and {stop}")
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[:, self.start:self.stop]

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@_register
class RhythmGate(keras.layers.Layer):
    """No supraventricular beat decided while the recent rhythm is irregular.

    Inputs ``[probs (B, K), rr (B, F)]``; where ``rr[:, column]`` (the recent rhythm's irregularity,
    e.g. ``recent_msd_ratio`` of :func:`ecgnet_tf.preprocess.rr_context`, dimensionless) exceeds
    ``threshold``, the probability of class ``gated_class`` is set to 0 and the row renormalised;
    other rows pass unchanged. In atrial fibrillation every beat is early against the last ones, so
    prematurity stops meaning "ectopic"; the threshold is chosen on training predictions only.
    """

    def __init__(self, threshold: float, gated_class: int, column: int, **kwargs):
        super().__init__(**kwargs)
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"threshold must be a positive number, got {threshold}")
        if gated_class < 0 or column < 0:
            raise ValueError(f"gated_class and column must be >= 0, got {gated_class} and {column}")
        self.threshold, self.gated_class, self.column = float(threshold), int(gated_class), int(column)

    def call(self, inputs):
        probs, rr = inputs
        irregular = tf.cast(rr[:, self.column:self.column + 1] > self.threshold, probs.dtype)  # (B, 1)
        onehot = tf.one_hot(self.gated_class, tf.shape(probs)[-1], dtype=probs.dtype)  # (K,)
        kept = probs * (1.0 - irregular * onehot)
        return kept / tf.maximum(tf.reduce_sum(kept, axis=-1, keepdims=True), 1e-12)

    def flops(self, input_shape) -> int:
        k = int(_shape(input_shape[0])[-1])
        return 4 * k + 2

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold, "gated_class": self.gated_class,
                "column": self.column}


def custom_objects() -> dict:
    """Everything needed by ``keras.models.load_model`` for ecgnet models."""
    return {
        "ClipToUnit": ClipToUnit,
        "SqueezeExcitation": SqueezeExcitation,
        "SpatialAttention": SpatialAttention,
        "GuidedAttention": GuidedAttention,
        "PositionalEncoding": PositionalEncoding,
        "LogCompress": LogCompress,
        "WindowStandardize": WindowStandardize,
        "FeatureHeadFusion": FeatureHeadFusion,
        "TakeColumns": TakeColumns,
        "RhythmGate": RhythmGate,
        f"{PACKAGE}>ClipToUnit": ClipToUnit,
        f"{PACKAGE}>SqueezeExcitation": SqueezeExcitation,
        f"{PACKAGE}>SpatialAttention": SpatialAttention,
        f"{PACKAGE}>GuidedAttention": GuidedAttention,
        f"{PACKAGE}>PositionalEncoding": PositionalEncoding,
        f"{PACKAGE}>LogCompress": LogCompress,
        f"{PACKAGE}>WindowStandardize": WindowStandardize,
        f"{PACKAGE}>FeatureHeadFusion": FeatureHeadFusion,
        f"{PACKAGE}>TakeColumns": TakeColumns,
        f"{PACKAGE}>RhythmGate": RhythmGate,
    }


__all__ = [
    "ClipToUnit",
    "SqueezeExcitation",
    "SpatialAttention",
    "GuidedAttention",
    "PositionalEncoding",
    "LogCompress",
    "WindowStandardize",
    "FeatureHeadFusion",
    "TakeColumns",
    "RhythmGate",
    "sinusoidal_table",
    "custom_objects",
]
