"""Quantisation-aware fine-tuning (QAT) that covers the convolutions, trained to agree with the float model.

tfmot's default 8-bit registry quantises Dense / ReLU / Add / Concatenate only; ecgnet's
convolutions (``Conv1D`` stem and projection, ``SeparableConv1D`` branches) and their BatchNorms
would stay unsimulated. This module adds :class:`~tensorflow_model_optimization.quantization.keras.QuantizeConfig`
objects for them, written to match what the TFLite converter does with the float model:

- a convolution's kernel gets symmetric per-channel int8 fake quantisation along the axis TFLite
  quantises per channel (output channels of ``Conv1D`` and of the pointwise kernel, input channels of
  the depthwise kernel). Per-channel symmetric rounding commutes with a positive per-channel scale,
  so rounding the kernel before the BatchNorm is folded into it (as here) gives the same int8 codes
  as rounding the folded kernel (as the converter does);
- the BatchNorm after a convolution is folded into it by the converter: no quantiser, and its
  statistics are frozen (inference mode) during fine-tuning;
- pooling / upsampling / cropping pass int8 through unchanged: no quantiser;
- ReLU, Add, Concatenate, Dense keep tfmot's defaults (the fused op's int8 output range).

Layers neither registry knows (the attention layers, the BiLSTMs, the layer norm) stay float while
fine-tuning; the export keeps the BiLSTMs float and chooses other float layers on validation windows.

The fine-tune is a distillation (:func:`distill`): the target of every training window is the float
model's own probability vector, so the QAT model learns to give the float model's answers under
int8 rounding, which is what the export's parity measures. Only training windows are used.
Before it, :func:`calibrate_ranges` sets every activation range to the float model's min / max on those
windows (tfmot starts them at [-6, 6] and moves them by a slow moving average).
After fine-tuning, :func:`float_model_with_qat_weights` copies the weights back into a plain float
copy of the model, which the ordinary int8 path converts (calibration, float fallback, repairs).

Layers the export will keep float (``float_layers``: the ``--float-for-speed`` and named fallback
layers) are left out of the simulation: simulating them (e.g. rounding the raw ECG into a stem the
export keeps float) adds error the converted model does not have. Layers ``--float-fallback auto``
chooses later cannot be known here.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
import tensorflow_model_optimization as tfmot

from .convert import QATUnsupportedError

#: the reduction axes of a kernel's per-channel scale (TFLite's per-channel axis is the one kept)
_KERNEL_AXES = {
    "Conv1D": {"kernel": (0, 1)},  # (k, in, out): one scale per output channel
    "SeparableConv1D": {"depthwise_kernel": (0,), "pointwise_kernel": (0, 1)},  # (k, in, mult), (1, in, out)
}
#: layers the converter folds into the op before them, or that pass int8 through unchanged
_PASS_THROUGH = ("BatchNormalization", "MaxPooling1D", "UpSampling1D", "Cropping1D", "Dropout")


@dataclass(frozen=True)
class QATConfig:
    """How :func:`qat_fine_tune_distilled` fine-tunes.

    ``epochs`` over the training windows, ``batch_size`` windows per step, Adam learning rate ``lr``.
    """

    epochs: int = 2
    batch_size: int = 32
    lr: float = 1e-5


class PerChannelWeights(tfmot.quantization.keras.quantizers.Quantizer):
    """Symmetric int8 rounding of a kernel, one scale (max |w| / 127) per slice kept by ``axes`` (the
    axes reduced), straight-through gradient. Its value is the kernel on the int8 grid."""

    def __init__(self, axes: tuple[int, ...]):
        self.axes = tuple(int(a) for a in axes)

    def build(self, tensor_shape, name, layer):
        return {}

    def __call__(self, inputs, training, weights, **kwargs):
        import tensorflow as tf

        scale = tf.maximum(tf.reduce_max(tf.abs(inputs), axis=self.axes, keepdims=True) / 127.0, 1e-12)
        rounded = tf.clip_by_value(tf.round(inputs / scale), -127.0, 127.0) * scale
        return inputs + tf.stop_gradient(rounded - inputs)

    def get_config(self):
        return {"axes": list(self.axes)}

    def __eq__(self, other):
        return isinstance(other, PerChannelWeights) and other.axes == self.axes

    def __ne__(self, other):
        return not self.__eq__(other)


class KernelQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """A ``Conv1D`` / ``SeparableConv1D``: per-channel kernels, no output quantiser (the BatchNorm after it is
    folded in, and the ReLU after that carries the int8 range). ``layer_type``: the Keras class name."""

    def __init__(self, layer_type: str):
        if layer_type not in _KERNEL_AXES:
            raise ValueError(f"no kernel quantisation for {layer_type!r} (known: {sorted(_KERNEL_AXES)})")
        self.layer_type = layer_type

    @property
    def _axes(self) -> dict:
        return _KERNEL_AXES[self.layer_type]

    def get_weights_and_quantizers(self, layer):
        return [(getattr(layer, attr), PerChannelWeights(ax)) for attr, ax in self._axes.items()]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        for attr, w in zip(self._axes, quantize_weights):
            setattr(layer, attr, w)

    def set_quantize_activations(self, layer, quantize_activations):
        return None

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {"layer_type": self.layer_type}


class PassThroughQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Adds nothing: a BatchNorm folded into the conv before it; pooling, upsampling, cropping (int8 in,
    int8 out at the same scale)."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        return None

    def set_quantize_activations(self, layer, quantize_activations):
        return None

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


def _registry():
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_mod,
    )

    return registry_mod.Default8BitQuantizeRegistry()


def layer_kind(layer, registry) -> str:
    """How QAT treats one Keras layer: "kernel" / "pass" for the layers this module covers, "default" when
    tfmot's default 8-bit ``registry`` quantises it, "float" otherwise."""
    kind = type(layer).__name__
    if kind in _KERNEL_AXES:
        return "kernel"
    if kind in _PASS_THROUGH:
        return "pass"
    return "default" if registry.supports(layer) else "float"


def coverage(model, float_layers: tuple[str, ...] = ()) -> dict:
    """Which layers QAT simulates: {"default": [...], "kernel": [...], "pass": [...], "float": [{"name", "type"}]}
    (names of the model's layers, InputLayers left out); ``float_layers`` (names) are listed float whatever
    their type. Raises ValueError for a name the model lacks."""
    import tf_keras as keras

    unknown = sorted(set(float_layers) - {layer.name for layer in model.layers})
    if unknown:
        raise ValueError(f"no layer(s) {unknown} in {model.name}")
    registry = _registry()
    out: dict = {"default": [], "kernel": [], "pass": [], "float": []}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        kind = "float" if layer.name in float_layers else layer_kind(layer, registry)
        out[kind].append({"name": layer.name, "type": type(layer).__name__} if kind == "float" else layer.name)
    return out


def quantize_aware_convs(model, float_layers: tuple[str, ...] = ()) -> tuple[object, dict]:
    """``model`` with fake quantisation on every layer :func:`coverage` lists as default / kernel / pass
    (weights copied), BatchNorms frozen and dropout off; returns (qat model, coverage).

    ``float_layers``: layer names left unsimulated, those the export keeps float (e.g. ``--float-for-speed``
    layers): an input that only such a layer reads is then not rounded either, as in the converted model."""
    import tf_keras as keras

    from ecgnet_tf.model import custom_objects

    cov = coverage(model, float_layers)
    kinds = {name: kind for kind in ("default", "kernel", "pass") for name in cov[kind]}

    def annotate(layer):
        cfg = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            cfg["trainable"] = False  # inference statistics, as the converter folds them
        if isinstance(layer, keras.layers.Dropout):
            cfg["rate"] = 0.0  # the teacher's answers are deterministic; so is the student
        new = layer.__class__.from_config(cfg)
        kind = kinds.get(layer.name)
        if kind == "default":
            return tfmot.quantization.keras.quantize_annotate_layer(new)
        if kind == "kernel":
            return tfmot.quantization.keras.quantize_annotate_layer(new, KernelQuantizeConfig(type(layer).__name__))
        if kind == "pass":
            return tfmot.quantization.keras.quantize_annotate_layer(new, PassThroughQuantizeConfig())
        return new

    clone = keras.models.clone_model(model, clone_function=annotate)
    clone.set_weights(model.get_weights())
    scope = {**custom_objects(), "KernelQuantizeConfig": KernelQuantizeConfig,
             "PassThroughQuantizeConfig": PassThroughQuantizeConfig, "PerChannelWeights": PerChannelWeights}
    try:
        with tfmot.quantization.keras.quantize_scope(scope):
            qmodel = tfmot.quantization.keras.quantize_apply(clone)
    except Exception as exc:  # tfmot raises assorted errors for graphs it cannot transform
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise QATUnsupportedError(f"tensorflow-model-optimization could not apply QAT to {model.name}: "
                                  f"{type(exc).__name__}: {first}") from exc
    return qmodel, cov


_RANGE_VAR = re.compile(r"^quant_(?P<layer>.+)/(?:output|post_activation)_(?P<end>min|max):0$")
_INPUT_RANGE_VAR = re.compile(r"^(?P<layer>quantize_layer(?:_\d+)?)/(?P=layer)_(?P<end>min|max):0$")


def range_variables(qmodel) -> dict[str, dict]:
    """The activation-range variables of ``qmodel``: {float-model layer whose output they quantise:
    {"min": var, "max": var}}. tfmot keeps them as moving averages that start at [-6, 6]; left there, the
    simulation clips most of ecgnet's activations."""
    out: dict[str, dict] = {}
    for v in qmodel.weights:
        m = _RANGE_VAR.match(v.name)
        if m:
            out.setdefault(m["layer"], {})[m["end"]] = v
            continue
        m = _INPUT_RANGE_VAR.match(v.name)
        if m:  # a QuantizeLayer quantises the output of the layer feeding it
            node = qmodel.get_layer(m["layer"])._inbound_nodes[0]  # noqa: SLF001 - the graph's only record of it
            src = node.inbound_layers[0] if isinstance(node.inbound_layers, list) else node.inbound_layers
            out.setdefault(src.name.removeprefix("quant_"), {})[m["end"]] = v
    return out


def calibrate_ranges(qmodel, fmodel, inputs: dict, batch_size: int = 64) -> dict[str, tuple[float, float]]:
    """Set every activation range of ``qmodel`` to the float model's min / max of that activation over
    ``inputs`` (widened to include 0), as the converter's calibration will, and every weight range to its
    weights; returns {layer: (min, max)} of the activations."""
    import tf_keras as keras

    # one training-mode call sets the weight ranges (tfmot's last-value quantisers, e.g. Dense kernels,
    # hold [-6, 6] until then); BatchNorm is frozen and dropout off, so nothing else changes but the
    # activation ranges' moving averages, which are overwritten below
    qmodel({k: v[:batch_size] for k, v in inputs.items()}, training=True)
    ranges = range_variables(qmodel)
    names = sorted(ranges)
    probe = keras.Model(fmodel.inputs, [fmodel.get_layer(n).output for n in names])
    n = len(next(iter(inputs.values())))
    lo = np.full(len(names), np.inf)
    hi = np.full(len(names), -np.inf)
    for i in range(0, n, batch_size):
        outs = probe({k: v[i:i + batch_size] for k, v in inputs.items()}, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for j, o in enumerate(outs):
            o = np.asarray(o)
            lo[j] = min(lo[j], float(o.min()))
            hi[j] = max(hi[j], float(o.max()))
    found = {}
    for j, name in enumerate(names):
        a, b = min(0.0, lo[j]), max(0.0, hi[j])
        ranges[name]["min"].assign(a)
        ranges[name]["max"].assign(b)
        found[name] = (a, b)
    return found


def distill(qmodel, inputs: dict, teacher: np.ndarray, multilabel: bool, cfg: QATConfig = QATConfig(),
            seed: int = 0) -> dict:
    """Fine-tune ``qmodel`` on prepared ``inputs`` (name -> (n, ...) arrays of TRAINING windows) towards
    the float model's probabilities ``teacher`` (n, K); returns the loss per epoch and the time taken.

    Softmax models: cross-entropy against the teacher's distribution (KL up to a constant);
    multi-label models: binary cross-entropy against the teacher's per-label probabilities."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    teacher = np.asarray(teacher, np.float32)
    loss = keras.losses.BinaryCrossentropy() if multilabel else keras.losses.CategoricalCrossentropy()
    qmodel.compile(optimizer=keras.optimizers.Adam(cfg.lr), loss=loss)
    t0 = time.time()
    hist = qmodel.fit(dict(inputs), teacher, epochs=cfg.epochs, batch_size=cfg.batch_size, shuffle=True, verbose=0)
    return {"loss": [float(v) for v in hist.history["loss"]], "seconds": round(time.time() - t0, 1)}


def _own_weights(layer) -> dict:
    """A layer's variables keyed by name without their first scope, the layer's (``kernel:0``,
    ``query/kernel:0``; an unscoped name as it is), the quantisers' state (``quant_<layer>/...``) left out."""
    out = {}
    for v in layer.weights:
        if v.name.startswith("quant_"):
            continue
        out[v.name.split("/", 1)[-1]] = v
    return out


def float_model_with_qat_weights(qmodel, fmodel):
    """A float copy of ``fmodel`` (same graph, no quantisers) holding ``qmodel``'s fine-tuned weights.

    Layer by layer: ``<name>`` of ``fmodel`` reads ``quant_<name>`` (wrapped) or ``<name>`` of ``qmodel``, each
    variable matched by its name within the layer. The per-channel kernel quantisers hold no state, so the
    kernels are the trained float values (the converter rounds them). Raises ValueError when a variable of
    ``fmodel`` has no counterpart of the same shape."""
    import tf_keras as keras

    out = keras.models.clone_model(fmodel)
    out.set_weights(fmodel.get_weights())
    qlayers = {layer.name: layer for layer in qmodel.layers}
    for layer in out.layers:
        if not layer.weights:
            continue
        src = qlayers.get(f"quant_{layer.name}", qlayers.get(layer.name))
        if src is None:
            raise ValueError(f"QAT model has no layer for {layer.name!r}")
        have, want = _own_weights(src), _own_weights(layer)
        if set(have) != set(want):
            raise ValueError(f"{layer.name}: QAT variables {sorted(have)} differ from the float model's {sorted(want)}")
        for key, var in want.items():
            if tuple(have[key].shape) != tuple(var.shape):
                raise ValueError(f"{layer.name}/{key}: shape {tuple(have[key].shape)} != {tuple(var.shape)}")
            var.assign(have[key].numpy())
    return out


def qat_fine_tune_distilled(fmodel, inputs: dict, multilabel: bool, cfg: QATConfig = QATConfig(),
                            seed: int = 0, float_layers: tuple[str, ...] = ()) -> tuple[object, dict]:
    """QAT (convolutions included) distilled from ``fmodel`` on prepared training ``inputs``; returns the
    plain float model holding the fine-tuned weights and a report (coverage, losses, parameters)."""
    teacher = fmodel.predict(dict(inputs), batch_size=256, verbose=0)
    qmodel, cov = quantize_aware_convs(fmodel, tuple(float_layers))
    ranges = calibrate_ranges(qmodel, fmodel, inputs)
    fit = distill(qmodel, inputs, teacher, multilabel, cfg, seed)
    model = float_model_with_qat_weights(qmodel, fmodel)
    info = {"method": "distillation from the float model", "annotated_layers": cov["default"] + cov["kernel"],
            "kernel_layers": cov["kernel"], "pass_through_layers": cov["pass"], "float_layers": cov["float"],
            "epochs": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr,
            "windows": int(len(teacher)), "calibrated_ranges": len(ranges), **fit}
    return model, info
