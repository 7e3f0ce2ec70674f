"""A beat network with a fixed linear feature head fused into its output (one Keras model).

:func:`fuse_feature_head` builds it from a trained network and the head's affine map (fitted by
:mod:`ecgnet_tf.training.feature_head`); :func:`copy_fusion` gives another instance of the same
network (e.g. the batch-1 rebuild the TFLite export converts) the same head, so every exported form
of a fused run carries its head.

The fusion reads the network's **logits**: a Dense layer ``network_logits`` with the weights of the
network's softmax layer ``probs``, applied to that layer's input. The fused model therefore has no
``probs`` layer of its own.

:func:`add_rhythm_gate` puts a :class:`~ecgnet_tf.model.layers.RhythmGate` after a beat model's
output: the model's "rr" input becomes wider (the beat's RR features, then the recent rhythm's
irregularity, :data:`ecgnet_tf.tasks.inputs.BEAT_RR_NAMES`), the network and its head read the first
columns as before (``rr_network_columns``), the gate reads one of the others.
"""
from __future__ import annotations

import numpy as np

from .build import RR_COLUMNS_LAYER

#: names of the layers :func:`fuse_feature_head` adds
FUSION_LAYER = "feature_head_fusion"
LOGITS_LAYER = "network_logits"
ROWS_LAYER = "feature_head_rows"
GATE_LAYER = "rhythm_gate"


def _inputs(model) -> dict:
    return {t.name.split(":")[0]: t for t in model.inputs}


def _layer(model, name: str):
    """``model``'s layer ``name``, or None."""
    return next((layer for layer in model.layers if layer.name == name), None)


def fuse_feature_head(network, kernel: np.ndarray, bias: np.ndarray, weight: float, floor: float = 1e-6):
    """``network`` (inputs "ecg", "prior", "rr" and optionally "morph"; softmax layer "probs") with
    its output fused with the head ``rows @ kernel + bias`` at ``weight``
    (:class:`~ecgnet_tf.model.layers.FeatureHeadFusion` on the network's logits); the rows are the
    "rr" input, then the "morph" input when the model has one. A new model sharing ``network``'s layers."""
    import tf_keras as keras

    from .layers import FeatureHeadFusion

    inputs = _inputs(network)
    if "rr" not in inputs:
        raise ValueError(f"the feature head reads the 'rr' input (and 'morph'); the model has {sorted(inputs)}")
    probs = network.get_layer("probs")
    if "softmax" not in str(probs.activation):
        raise ValueError("the feature head fuses a softmax (single-label) output")
    narrow = _layer(network, RR_COLUMNS_LAYER)  # a wider rr input: the network reads its first columns
    rr = inputs["rr"] if narrow is None else narrow.output
    parts = [rr] + ([inputs["morph"]] if "morph" in inputs else [])
    feats = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name=ROWS_LAYER)(parts)
    n_features, n_classes = int(feats.shape[-1]), int(probs.units)
    kernel, bias = np.asarray(kernel, np.float32), np.asarray(bias, np.float32)
    if kernel.shape != (n_features, n_classes) or bias.shape != (n_classes,):
        raise ValueError(f"head (kernel {kernel.shape}, bias {bias.shape}) does not fit {n_features} input columns "
                         f"and {n_classes} classes")
    logits_layer = keras.layers.Dense(n_classes, name=LOGITS_LAYER)
    logits = logits_layer(probs.input)
    logits_layer.set_weights(probs.get_weights())
    fusion = FeatureHeadFusion(n_features, n_classes, weight, floor=floor, source="logits", name=FUSION_LAYER)
    out = fusion([logits, feats])
    fusion.set_weights([kernel, bias])
    return keras.Model(network.inputs, out, name=f"{network.name}_feature_head")


def has_feature_head(model) -> bool:
    """True when ``model`` carries a fused feature head."""
    return any(layer.name == FUSION_LAYER for layer in model.layers)


def copy_fusion(network, fused):
    """``network`` (a fresh instance of ``fused``'s network, weights already set) with ``fused``'s head:
    same weight, floor, kernel and bias. A fused model whose fusion reads probabilities (saved before
    the logits form) gets the logits form, the same function of the network in float."""
    fusion = fused.get_layer(FUSION_LAYER)
    kernel, bias = fusion.get_weights()
    return fuse_feature_head(network, kernel, bias, fusion.weight, fusion.floor)


def network_weights_source(fused) -> dict:
    """Layer name -> layer of ``fused`` for copying weights into a fresh network: its own layers, with
    the network's softmax layer "probs" answered by ``network_logits`` (same kernel and bias) when the
    fused model reads logits."""
    src = {layer.name: layer for layer in fused.layers}
    if "probs" not in src and LOGITS_LAYER in src:
        src["probs"] = src[LOGITS_LAYER]
    return src


def has_rhythm_gate(model) -> bool:
    """True when ``model`` ends with a rhythm gate."""
    return any(layer.name == GATE_LAYER for layer in model.layers)


def gate_settings(model) -> dict:
    """The rhythm gate of ``model``: {"threshold", "gated_class", "column"}."""
    layer = model.get_layer(GATE_LAYER)
    return {"threshold": layer.threshold, "gated_class": layer.gated_class, "column": layer.column}


def rr_input_width(model) -> int | None:
    """Columns of ``model``'s "rr" input (None without one)."""
    rr = _inputs(model).get("rr")
    return None if rr is None else int(rr.shape[-1])


def add_rhythm_gate(model, threshold: float, gated_class: int, column: int):
    """``model`` (its "rr" input wider than ``column``: built with ``rr_input_width``) with a
    :class:`~ecgnet_tf.model.layers.RhythmGate` on its output; a new model sharing its layers."""
    import tf_keras as keras

    from .layers import RhythmGate

    if has_rhythm_gate(model):
        raise ValueError("the model already has a rhythm gate")
    width = rr_input_width(model)
    if width is None or column >= width:
        raise ValueError(f"the gate reads column {column} of the 'rr' input; the model's has {width} columns")
    narrow = _layer(model, RR_COLUMNS_LAYER)
    if narrow is None or column < narrow.stop:
        raise ValueError(f"the gate column {column} must be one the network does not read "
                         f"(build the model with rr_input_width > {column})")
    out = RhythmGate(threshold, gated_class, column, name=GATE_LAYER)([model.outputs[0], _inputs(model)["rr"]])
    return keras.Model(model.inputs, out, name=model.name)


def rebuild(model, model_config, batch_size: int | None = None, multilabel: bool | None = None,
            gate: dict | None = None):
    """``model``'s architecture built again from ``model_config`` (a ``ModelConfig`` or its dict) with
    its weights copied layer by layer, its feature head and rhythm gate carried over.

    ``batch_size``: fixed batch (1 for the TFLite export). ``gate``: a rhythm gate to put on the new
    model ({"threshold", "gated_class", "column"}; None: ``model``'s own, if any), its "rr" input
    widened to reach the gate's column. Input length, leads, "rr" width and classes are otherwise
    ``model``'s. ``multilabel``: sigmoid output; None reads it from the "probs" layer."""
    from .build import build_model
    from .config import ModelConfig

    mcfg = model_config if isinstance(model_config, ModelConfig) else ModelConfig.from_dict(model_config)
    ecg = _inputs(model).get("ecg")
    if ecg is None:
        raise ValueError(f"ecgnet models take an 'ecg' input, this one takes {sorted(_inputs(model))}")
    t, c = int(ecg.shape[1]), int(ecg.shape[2])
    k = int(model.outputs[0].shape[-1])
    src = network_weights_source(model)
    if multilabel is None:
        multilabel = "sigmoid" in str(getattr(src["probs"], "activation", ""))
    if gate is None and has_rhythm_gate(model):
        gate = gate_settings(model)
    width = rr_input_width(model)
    if gate is not None:
        width = max(width or 0, int(gate["column"]) + 1)
    out = build_model(mcfg, t, c, k, multilabel=bool(multilabel), batch_size=batch_size,
                      rr_input_width=width if mcfg.rr_features else None)
    for layer in out.layers:
        if not layer.weights:
            continue
        other = src.get(layer.name)
        if other is None:
            raise ValueError(f"layer {layer.name!r} of the rebuilt model is not in the trained model")
        layer.set_weights(other.get_weights())
    if has_feature_head(model):
        out = copy_fusion(out, model)
    if gate is not None:
        out = add_rhythm_gate(out, float(gate["threshold"]), int(gate["gated_class"]), int(gate["column"]))
    return out
