"""Class activation maps over time (Grad-CAM, Grad-CAM++, ScoreCAM via tf-keras-vis) and
gradient x input per lead.

tf-keras-vis computes the maps at the resolution of the chosen layer (``expand_cam=False``,
``normalize_cam=False``): ReLU(sum_k w_k A_k(t)) with Grad-CAM weights w_k = mean_t dS/dA_k(t),
Grad-CAM++ weights from its higher-order terms, ScoreCAM weights from the score of the input
masked by each (upsampled, min-max scaled) activation channel. The score S is the target class'
*logit* for the gradient methods (tf-keras-vis' ``ReplaceToLinear`` on a clone of the model, so a
saturated softmax / sigmoid does not flatten the gradients) and tf-keras-vis' softmax over the
model outputs for ScoreCAM (its documented use, on the unmodified model). Resampling to the input
length is done by :mod:`ecgnet_tf.interpret.resample` (cell-centred), not by tf-keras-vis.

ScoreCAM masks every model input; to keep the physiological prior intact it is run per window on a
single-input wrapper whose prior is a constant (the window's own prior), and as Faster-ScoreCAM
on the ``scorecam_max_n`` activation channels of largest variance (tf-keras-vis ``max_N``).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tf_keras as keras

from .layers import default_cam_layer

CAM_METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "scorecam")


@dataclass(frozen=True)
class CamConfig:
    """method: one of :data:`CAM_METHODS`. layer: layer name (None: :func:`default_cam_layer`).
    batch_size: windows per gradient call. scorecam_max_n: channels kept by Faster-ScoreCAM
    (None or 0: every channel)."""

    method: str = "gradcam"
    layer: str | None = None
    batch_size: int = 32
    scorecam_max_n: int | None = 32

    def __post_init__(self) -> None:
        if self.method not in CAM_METHODS:
            raise ValueError(f"method must be one of {CAM_METHODS}, got {self.method!r}")


class _FixedPrior(keras.layers.Layer):
    """Outputs a constant (1, T, 1) prior broadcast to the batch of its input."""

    def __init__(self, prior: np.ndarray, **kwargs):
        super().__init__(**kwargs)
        self.prior = tf.constant(np.asarray(prior, np.float32).reshape(1, -1, 1))

    def call(self, x):
        return tf.broadcast_to(self.prior, tf.stack([tf.shape(x)[0], tf.shape(self.prior)[1], 1]))


def _model_inputs(model: keras.Model, ecg: np.ndarray, prior: np.ndarray) -> list:
    """``[ecg, prior]`` in the order of ``model.inputs`` (matched by input name)."""
    p = np.asarray(prior, np.float32)
    p = p[..., None] if p.ndim == 2 else p
    by_name = {"ecg": np.asarray(ecg, np.float32), "prior": p}
    names = [t.name.split(":")[0] for t in model.inputs]
    if len(names) == 1:
        return [by_name["ecg"]]
    return [by_name["prior"] if "prior" in n else by_name["ecg"] for n in names]


class CamExplainer:
    """Computes raw (non-negative, un-normalised) CAMs at the chosen layer's time resolution.

    Build once per model (tf-keras-vis clones the model for the gradient methods, ~2 s).
    """

    def __init__(self, model: keras.Model, cfg: CamConfig = CamConfig()):
        from tf_keras_vis.gradcam import Gradcam, GradcamPlusPlus
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

        self.model = model
        self.cfg = cfg
        self.layer = cfg.layer or default_cam_layer(model)
        model.get_layer(self.layer)  # ValueError for an unknown layer
        if cfg.method == "scorecam":
            self._viz = None
            self.linear_model = None
        else:
            cls = Gradcam if cfg.method == "gradcam" else GradcamPlusPlus
            self._viz = cls(model, model_modifier=ReplaceToLinear(), clone=True)
            self.linear_model = self._viz.model

    def feature_length(self) -> int:
        """Time steps of the CAM layer's output."""
        return int(self.model.get_layer(self.layer).output_shape[1])

    def __call__(self, ecg: np.ndarray, prior: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Raw CAMs (B, T') >= 0 of z-scored ``ecg`` (B, T, C), ``prior`` (B, T) for ``classes`` (B,)."""
        classes = np.asarray(classes, dtype=np.int64)
        out = []
        for a in range(0, len(ecg), self.cfg.batch_size):
            sl = slice(a, a + self.cfg.batch_size)
            if self.cfg.method == "scorecam":
                out.extend(self._scorecam_one(ecg[i], prior[i], int(classes[i])) for i in range(*sl.indices(len(ecg))))
            else:
                out.append(self._gradient_cam(ecg[sl], prior[sl], classes[sl]))
        return np.concatenate([np.atleast_2d(o) for o in out], axis=0).astype(np.float64)

    def _gradient_cam(self, ecg, prior, classes) -> np.ndarray:
        from tf_keras_vis.utils.scores import CategoricalScore

        cam = self._viz(CategoricalScore(classes.tolist()), _model_inputs(self.model, ecg, prior),
                        penultimate_layer=self.layer, seek_penultimate_conv_layer=False,
                        expand_cam=False, normalize_cam=False)
        return np.maximum(np.asarray(cam, dtype=np.float64).reshape(len(ecg), -1), 0.0)

    def _scorecam_one(self, ecg, prior, cls) -> np.ndarray:
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.scores import CategoricalScore

        inp = keras.Input(shape=ecg.shape, name="ecg")
        fixed = _FixedPrior(prior)(inp)
        both = keras.Model(self.model.inputs, [self.model.outputs[0], self.model.get_layer(self.layer).output])
        probs, feats = both([fixed if "prior" in t.name else inp for t in self.model.inputs])
        tag = keras.layers.Activation("linear", name="cam_features")
        tag(feats)  # a layer whose .output tf-keras-vis reads; it is not on the output path
        viz = Scorecam(keras.Model(inp, probs))
        max_n = min(self.cfg.scorecam_max_n or 0, int(feats.shape[-1])) or None
        with contextlib.redirect_stdout(io.StringIO()):  # tf-keras-vis' predict() prints progress bars
            cam = viz(CategoricalScore([cls]), ecg[None].astype(np.float32), penultimate_layer=tag,
                      seek_penultimate_conv_layer=False, max_N=max_n,
                      batch_size=self.cfg.batch_size, expand_cam=False, normalize_cam=False)
        return np.maximum(np.asarray(cam, dtype=np.float64).reshape(1, -1), 0.0)


def gradient_x_input(model: keras.Model, ecg: np.ndarray, prior: np.ndarray, classes: np.ndarray,
                     batch_size: int = 32) -> np.ndarray:
    """|dS/dx * x| (B, T, C) for z-scored ``ecg``: per-sample, per-lead attribution of class ``classes``.

    S is the class output of ``model`` (pass :attr:`CamExplainer.linear_model` for logits).
    """
    classes = np.asarray(classes, dtype=np.int64)
    out = []
    for a in range(0, len(ecg), batch_size):
        x = tf.constant(np.asarray(ecg[a:a + batch_size], np.float32))
        inputs = _model_inputs(model, x.numpy(), prior[a:a + batch_size])
        idx = [i for i, t in enumerate(model.inputs) if "prior" not in t.name] or [0]
        inputs = [x if i == idx[0] else tf.constant(v) for i, v in enumerate(inputs)]
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(inputs, training=False)
            y = y[0] if isinstance(y, (list, tuple)) else y
            score = tf.gather(y, classes[a:a + batch_size], axis=1, batch_dims=1)
        g = tape.gradient(score, x)
        out.append(np.abs(g.numpy() * x.numpy()))
    return np.concatenate(out, axis=0).astype(np.float64)
