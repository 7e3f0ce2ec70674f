"""The model's own attention maps (guided mask, spatial attention, MHSA weights) and an
attention-exporting model for TFLite, so a phone can show a heatmap without gradients.

Maps, each at its layer's time resolution (resample with :mod:`ecgnet_tf.interpret.resample`):

* ``guided_mask``: the GuidedAttention mask alpha * prior + (1 - alpha) * learned, in 0..1, at the
  block resolution (T / 10 for the edge model).
* ``spatial_attention``: the SpatialAttention sigmoid map in 0..1, block resolution.
* ``mhsa``: the self-attention weights averaged over heads and over query steps, i.e. the mean
  attention each key time step *receives* (sums to 1 over time), at T / pool_before_attention.
"""
from __future__ import annotations

import numpy as np
import tf_keras as keras

from .cam import _model_inputs
from .layers import GUIDED, MHSA, SPATIAL, has_layer

ATTENTION_MAPS: tuple[str, ...] = ("guided_mask", "spatial_attention", "mhsa")


def _first_input(layer):
    inp = layer.input
    return inp if not isinstance(inp, (list, tuple)) else inp[0]


def attention_maps(model: keras.Model, ecg: np.ndarray, prior: np.ndarray, batch_size: int = 32
                   ) -> dict[str, np.ndarray]:
    """The attention maps present in ``model`` for z-scored ``ecg`` (B, T, C) and ``prior`` (B, T).

    Returns name -> float64 (B, T_layer) (keys from :data:`ATTENTION_MAPS`, only those present).
    """
    taps, names = [], []
    if has_layer(model, GUIDED):
        taps += list(model.get_layer(GUIDED).input)
        names.append("guided_mask")
    if has_layer(model, SPATIAL):
        taps.append(_first_input(model.get_layer(SPATIAL)))
        names.append("spatial_attention")
    if has_layer(model, MHSA):
        taps.append(_first_input(model.get_layer(MHSA)))
        names.append("mhsa")
    if not names:
        return {}
    probe = keras.Model(model.inputs, taps)
    out: dict[str, list] = {n: [] for n in names}
    for a in range(0, len(ecg), batch_size):
        vals = probe(_model_inputs(model, ecg[a:a + batch_size], prior[a:a + batch_size]), training=False)
        vals = list(vals) if isinstance(vals, (list, tuple)) else [vals]
        if "guided_mask" in names:
            feats, p = vals.pop(0), vals.pop(0)
            out["guided_mask"].append(model.get_layer(GUIDED).compute_mask_values(feats, p).numpy()[..., 0])
        if "spatial_attention" in names:
            out["spatial_attention"].append(model.get_layer(SPATIAL).attention_map(vals.pop(0)).numpy()[..., 0])
        if "mhsa" in names:
            x = vals.pop(0)
            _, scores = model.get_layer(MHSA)(x, x, return_attention_scores=True, training=False)
            out["mhsa"].append(scores.numpy().mean(axis=(1, 2)))  # (B, heads, Tq, Tk) -> (B, Tk)
    return {n: np.concatenate(v, axis=0).astype(np.float64) for n, v in out.items()}


class GuidedMaskOutput(keras.layers.Layer):
    """Exposes a GuidedAttention layer's mask as a model output (shares its weights)."""

    def __init__(self, source, **kwargs):
        super().__init__(**kwargs)
        self.source = source

    def call(self, inputs):
        feats, prior = inputs
        return self.source.compute_mask_values(feats, prior)


class SpatialMapOutput(keras.layers.Layer):
    """Exposes a SpatialAttention layer's map as a model output (shares its weights)."""

    def __init__(self, source, **kwargs):
        super().__init__(**kwargs)
        self.source = source

    def call(self, x):
        return self.source.attention_map(x)


def with_batch_size(model: keras.Model, batch_size: int | None = 1) -> keras.Model:
    """A clone of functional ``model`` with a fixed batch dimension and the same weights."""
    if all(t.shape[0] == batch_size for t in model.inputs):
        return model
    inputs = [keras.Input(batch_shape=(batch_size, *t.shape[1:]), name=t.name.split(":")[0], dtype=t.dtype)
              for t in model.inputs]
    clone = keras.models.clone_model(model, input_tensors=inputs)
    clone.set_weights(model.get_weights())
    return clone


def attention_model(model: keras.Model, batch_size: int | None = 1) -> keras.Model:
    """``model`` with extra outputs: ``[probs, guided_mask, spatial_attention]`` (batch ``batch_size``).

    The masks are (batch, T_block, 1) in 0..1 at the block resolution (T / 10 for edge), output
    names "probs", "guided_mask", "spatial_attention"; a map whose layer the model lacks is left
    out. Builtin TFLite ops only (see :func:`convert_attention_tflite`). Not meant for ``.keras``
    saving (export the TFLite model instead).
    """
    m = with_batch_size(model, batch_size)
    outputs = [m.outputs[0]]
    if has_layer(m, GUIDED):
        layer = m.get_layer(GUIDED)
        outputs.append(GuidedMaskOutput(layer, name="guided_mask")(list(layer.input)))
    if has_layer(m, SPATIAL):
        layer = m.get_layer(SPATIAL)
        outputs.append(SpatialMapOutput(layer, name="spatial_attention_map")(_first_input(layer)))
    if len(outputs) == 1:
        raise ValueError(f"model {model.name!r} has neither guided nor spatial attention")
    return keras.Model(m.inputs, outputs, name=f"{model.name}_attention")


def convert_attention_tflite(model: keras.Model, representative=None, int8: bool = False) -> bytes:
    """Convert :func:`attention_model` ``(model)`` to TFLite with builtin ops only, through the
    project's converter (:func:`ecgnet_tf.export.convert.convert_model`).

    ``int8``: full-integer quantisation (inputs/outputs stay float32, quantised internally) with
    ``representative``, a callable yielding ``[ecg (1, T, C), prior (1, T, 1)]`` float32 lists in
    the model's input order (or {"ecg", "prior"} dicts); float32 otherwise. Signature outputs:
    "probs", "guided_mask", "spatial_attention_map" (those the model has).
    """
    from ..export.convert import convert_model

    if int8 and representative is None:
        raise ValueError("int8 conversion needs a representative dataset")
    att = attention_model(model, batch_size=1)
    return convert_model(att, "int8" if int8 else "float32", representative if int8 else None)


class TfliteAttention:
    """Runs an attention TFLite model (from :func:`convert_attention_tflite`) one window at a time.

    A thin reader over :class:`ecgnet_tf.export.tflite.TFLiteRunner` (named inputs, int8 I/O handled,
    LSTM state reset before every window) that names the masks. ``no_delegate`` (default True) uses
    the builtin reference kernels without the default XNNPACK delegate: with ai-edge-litert 2.3.0,
    creating an XNNPACK interpreter for an int8 model in a process that has already run the TF
    converter aborts with "double free" (seen in this project); the reference kernels are exact and
    fast enough for offline figures.
    """

    def __init__(self, model: bytes | str, num_threads: int = 1, no_delegate: bool = True):
        from ..export.tflite import TFLiteRunner

        self.runner = TFLiteRunner(model, num_threads=num_threads, xnnpack=not no_delegate)
        self.interp = self.runner.interp
        self.names = self._map_names()

    def _map_names(self) -> dict[str, str]:
        """Map name ("probs", "guided_mask", "spatial_attention") -> runner output name."""
        outs = self.runner.outputs
        named = {}
        for key in outs:
            low = key.lower()
            if key == "probs":
                named["probs"] = key
            elif "guided" in low:
                named["guided_mask"] = key
            elif "spatial" in low:
                named["spatial_attention"] = key
        rest = [k for k in outs if k not in named.values() and len(outs[k]["shape"]) == 3]
        for map_name in ("guided_mask", "spatial_attention"):  # unnamed masks: in attention_model order
            if map_name not in named and rest:
                named[map_name] = rest.pop(0)
        return named

    def op_names(self) -> set[str]:
        """Names of the ops in the graph (to check for Flex / custom ops)."""
        return self.runner.op_names()

    def input_shape(self, kind: str) -> tuple[int, ...]:
        """Shape of the "ecg" or "prior" input."""
        return self.runner.input_shape(kind)

    def __call__(self, ecg: np.ndarray, prior: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs for one z-scored window ``ecg`` (T, C), ``prior`` (T,): name -> array (no batch axis).

        Names: "probs" (K,), and the masks (T_block,) under "guided_mask" / "spatial_attention"
        (matched by the signature's output names). Outputs are float64 (int8 outputs dequantised).
        """
        out = self.runner.run_window({"ecg": np.asarray(ecg, np.float32), "prior": np.asarray(prior, np.float32)},
                                     list(self.names.values()))
        return {key: out[name] if key == "probs" else out[name][..., 0] for key, name in self.names.items()}
