"""A beat network with a fixed linear feature head fused into its output (one Keras model).

:func:`fuse_feature_head` builds it from a trained network and the head's affine map (fitted by
:mod:`ecgnet_tf.training.feature_head`); :func:`copy_fusion` gives another instance of the same
network (e.g. the batch-1 rebuild the TFLite export converts) the same head, so every exported form
of a fused run carries its head.

The fusion reads the network's **logits**: a Dense layer ``network_logits`` with the weights of the
network's softmax layer ``probs``, applied to that layer's input. The fused model therefore has no
``probs`` layer of its own.
"""
from __future__ import annotations

import numpy as np

#: names of the layers :func:`fuse_feature_head` adds
FUSION_LAYER = "feature_head_fusion"
LOGITS_LAYER = "network_logits"
ROWS_LAYER = "feature_head_rows"


def _inputs(model) -> dict:
    return {t.name.split(":")[0]: t for t in model.inputs}


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
    parts = [inputs["rr"]] + ([inputs["morph"]] if "morph" in inputs else [])
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
