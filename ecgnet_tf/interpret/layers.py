"""Finding the layers that interpretation reads in an ecgnet (or any channels-last 1-D) model."""
from __future__ import annotations

import tf_keras as keras

#: Layers that start the attention / sequence stage of ecgnet, in graph order.
ATTENTION_STAGE: tuple[str, ...] = ("channel_attention", "spatial_attention", "guided_attention", "seq_pool0",
                                    "positional_encoding", "mhsa", "bilstm0")
GUIDED = "guided_attention"
SPATIAL = "spatial_attention"
MHSA = "mhsa"


def _producer(tensor) -> keras.layers.Layer:
    return tensor._keras_history.layer


def has_layer(model: keras.Model, name: str) -> bool:
    """Whether ``model`` has a layer called ``name``."""
    return any(layer.name == name for layer in model.layers)


def default_cam_layer(model: keras.Model) -> str:
    """Name of the layer Grad-CAM reads by default: the backbone output feeding the attention stage.

    For ecgnet that is the layer producing the (first) input of the first attention-stage layer
    present (``resu_out``, the ResU multi-scale block output, for the edge / paper models; the last
    conv ReLU for the CNN-LSTM baseline). For other models: the last layer with a 3-D
    (batch, time, channels) output whose time axis is longer than 1.
    """
    for name in ATTENTION_STAGE:
        if has_layer(model, name):
            inp = model.get_layer(name).input
            return _producer(inp[0] if isinstance(inp, (list, tuple)) else inp).name
    for layer in reversed(model.layers):
        shape = getattr(layer, "output_shape", None)
        if isinstance(shape, tuple) and len(shape) == 3 and (shape[1] or 0) > 1 \
                and not isinstance(layer, keras.layers.InputLayer):
            return layer.name
    raise ValueError(f"model {model.name!r} has no (batch, time, channels) layer for a CAM")
