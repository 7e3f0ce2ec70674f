"""Build the ecgnet Keras model from a :class:`ModelConfig`.

Graph (channels-last, input ``ecg`` (T, C) and ``prior`` (T, 1))::

    ecg -> stem Conv1D(64, 7, stride) + BN + ReLU -> pre-pool stages
        -> backbone: ResU block of multi-scale blocks (or, for ``baseline``, 3 plain conv layers)
        -> [squeeze-excitation] -> [spatial attention]
        -> [guided attention with AveragePooling1D(prior) at the block resolution]
        -> strided pooling stages down to T / pool_before_attention
        -> [positional encoding + 4-head self-attention (residual + LayerNorm)]
        -> BiLSTM(64) x 2 -> concat(global avg, global max) -> Dense+Dropout x 2 -> probs

Multi-scale block: three parallel branches (SeparableConv1D, or Conv1D when
``separable=False``) with kernels 3/7/15, each ``branch_filters`` wide + BN + ReLU, concatenated.
ResU block: encoder (multi-scale block, max-pool 2) x depth, a multi-scale bottleneck, decoder
(upsample 2, crop, concat the skip, multi-scale block) x depth, plus a residual connection from
the block input (1x1 projection when the widths differ).
"""
from __future__ import annotations

import tf_keras as keras

from .config import ModelConfig
from .layers import (GuidedAttention, LogCompress, PositionalEncoding, SpatialAttention, SqueezeExcitation,
                     TakeColumns, WindowStandardize)

#: the layer that gives the rhythm branch its columns of a wider "rr" input (``rr_input_width``)
RR_COLUMNS_LAYER = "rr_network_columns"


#: BatchNorm moving-average momentum. Keras' 0.99 needs several hundred steps before the inference
#: statistics forget their initial values, which left short (--quick, fine-tuning) runs predicting one
#: class; 0.9 converges within a few dozen steps and changes nothing at inference time.
BN_MOMENTUM = 0.9


def _conv_bn_relu(x, filters, kernel, name, strides=1, separable=False):
    conv_cls = keras.layers.SeparableConv1D if separable else keras.layers.Conv1D
    x = conv_cls(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _pool(x, size, kind, name):
    cls = keras.layers.MaxPooling1D if kind == "max" else keras.layers.AveragePooling1D
    return cls(pool_size=size, strides=size, padding="same", name=name)(x)


def multiscale_block(x, cfg: ModelConfig, name: str):
    """Parallel branches with kernels ``cfg.branch_kernels``, concatenated on channels."""
    branches = [
        _conv_bn_relu(x, cfg.branch_filters, k, f"{name}_k{k}", separable=cfg.separable)
        for k in cfg.branch_kernels
    ]
    if len(branches) == 1:
        return branches[0]
    return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")(branches)


def _match_length(x, target_len, name):
    extra = x.shape[1] - target_len
    if extra > 0:
        x = keras.layers.Cropping1D((0, extra), name=name)(x)
    return x


def resu_block(x, cfg: ModelConfig, name: str = "resu"):
    """Residual U-block: a small encoder-decoder of multi-scale blocks with skip connections."""
    inp = x
    skips = []
    h = x
    for level in range(cfg.resu_depth):
        h = multiscale_block(h, cfg, f"{name}_enc{level}")
        skips.append(h)
        h = keras.layers.MaxPooling1D(2, strides=2, padding="same", name=f"{name}_down{level}")(h)
    h = multiscale_block(h, cfg, f"{name}_mid")
    for level in reversed(range(cfg.resu_depth)):
        skip = skips[level]
        h = keras.layers.UpSampling1D(2, name=f"{name}_up{level}")(h)
        h = _match_length(h, skip.shape[1], f"{name}_crop{level}")
        h = keras.layers.Concatenate(axis=-1, name=f"{name}_skip{level}")([h, skip])
        h = multiscale_block(h, cfg, f"{name}_dec{level}")
    shortcut = inp
    if inp.shape[-1] != h.shape[-1]:
        shortcut = keras.layers.Conv1D(h.shape[-1], 1, use_bias=False, name=f"{name}_proj")(inp)
        shortcut = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_proj_bn")(shortcut)
    h = keras.layers.Add(name=f"{name}_add")([shortcut, h])
    return keras.layers.ReLU(name=f"{name}_out")(h)


def conv_stack(x, cfg: ModelConfig, name: str = "cnn"):
    """The CNN-LSTM baseline's plain convolutions (after the stem)."""
    for i, filters in enumerate(cfg.conv_filters):
        x = _conv_bn_relu(x, filters, cfg.conv_kernel, f"{name}{i}")
    return x


def _model_name(cfg: ModelConfig) -> str:
    return "ecgnet_" + cfg.name.replace("+", "plus_").replace("-", "_")


def build_model(
    cfg: ModelConfig,
    n_samples: int,
    n_leads: int,
    n_classes: int,
    multilabel: bool = False,
    batch_size: int | None = None,
    rr_input_width: int | None = None,
) -> keras.Model:
    """Build (uncompiled) ecgnet for ``n_samples`` x ``n_leads`` inputs and ``n_classes`` outputs.

    Inputs are named ``"ecg"`` (T, C) and ``"prior"`` (T, 1), plus ``"rr"`` (``cfg.rr_features``,) RR-interval
    features of the beat when ``cfg.rr_features`` (a small rhythm branch joined before the dense layers)
    and ``"morph"`` (``cfg.morph_features``,) beat-template features joining that branch's input;
    the output layer is ``"probs"``
    (softmax, or sigmoid when ``multilabel``). ``batch_size`` fixes the batch dimension (use 1 for
    TFLite export). Weights are deterministic given ``keras.utils.set_random_seed``.
    ``rr_input_width``: a wider "rr" input than ``cfg.rr_features`` (more columns of the beat's rr row,
    e.g. for a :class:`~ecgnet_tf.model.layers.RhythmGate` after the model); the rhythm branch reads
    its first ``cfg.rr_features`` columns (layer ``rr_network_columns``). None: ``cfg.rr_features``.
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if n_samples < 1 or n_leads < 1 or n_classes < 1:
        raise ValueError("n_samples, n_leads and n_classes must be positive")

    ecg = keras.Input(shape=(n_samples, n_leads), batch_size=batch_size, name="ecg", dtype="float32")
    prior = keras.Input(shape=(n_samples, 1), batch_size=batch_size, name="prior", dtype="float32")

    # stem and early downsampling (optionally on each window's own amplitude scale)
    x = WindowStandardize(name="window_standardize")(ecg) if cfg.window_norm else ecg
    x = _conv_bn_relu(x, cfg.stem_filters, cfg.stem_kernel, "stem", strides=cfg.stem_stride)
    for i, p in enumerate(cfg.pre_pool):
        x = _pool(x, p, cfg.pool_type, f"pre_pool{i}")

    # backbone
    if cfg.block == "multiscale":
        x = resu_block(x, cfg, "resu")
    else:
        x = conv_stack(x, cfg, "cnn")

    # attention at the block resolution
    if cfg.channel_attention:
        x = SqueezeExcitation(cfg.se_reduction, name="channel_attention")(x)
    if cfg.spatial_attention:
        x = SpatialAttention(cfg.spatial_kernel, name="spatial_attention")(x)
    if cfg.guided_attention:
        p = prior
        if cfg.pre_block_factor > 1:
            f = cfg.pre_block_factor
            p = keras.layers.AveragePooling1D(f, strides=f, padding="same", name="prior_pool")(p)
        x = GuidedAttention(cfg.guided_kernel, cfg.guided_init_alpha, name="guided_attention")([x, p])

    # downsampling before the sequence models
    for i, s in enumerate(cfg.post_block_pools):
        x = _pool(x, s, cfg.pool_type, f"seq_pool{i}")

    if cfg.mhsa:
        if cfg.positional != "none":
            x = PositionalEncoding(cfg.positional, name="positional_encoding")(x)
        dim = x.shape[-1]
        att = keras.layers.MultiHeadAttention(
            num_heads=cfg.mhsa_heads, key_dim=max(1, dim // cfg.mhsa_heads), name="mhsa")(x, x)
        x = keras.layers.Add(name="mhsa_add")([x, att])
        x = keras.layers.LayerNormalization(name="mhsa_norm")(x)

    for i in range(cfg.lstm_layers):
        x = keras.layers.Bidirectional(
            keras.layers.LSTM(cfg.lstm_units, return_sequences=True, name=f"lstm{i}"),
            merge_mode="concat", name=f"bilstm{i}")(x)

    x = keras.layers.Concatenate(name="pool_concat")([
        keras.layers.GlobalAveragePooling1D(name="gap")(x),
        keras.layers.GlobalMaxPooling1D(name="gmp")(x),
    ])
    inputs = [ecg, prior]
    if cfg.rr_features:
        width = cfg.rr_features if rr_input_width is None else int(rr_input_width)
        if width < cfg.rr_features:
            raise ValueError(f"rr_input_width {width} is narrower than the rhythm branch's {cfg.rr_features} columns")
        rr = keras.Input(shape=(width,), batch_size=batch_size, name="rr", dtype="float32")
        inputs.append(rr)
        if width > cfg.rr_features:
            rr = TakeColumns(0, cfg.rr_features, name=RR_COLUMNS_LAYER)(rr)
        r = LogCompress(name="rr_log")(rr)
        if cfg.morph_features:
            morph = keras.Input(shape=(cfg.morph_features,), batch_size=batch_size, name="morph", dtype="float32")
            inputs.append(morph)
            r = keras.layers.Concatenate(name="rr_morph")([r, morph])
        for i, units in enumerate(cfg.rr_units):
            r = keras.layers.Dense(units, activation="relu", name=f"rr_dense{i}")(r)
        x = keras.layers.Concatenate(name="morphology_rhythm")([x, r])
    for i, units in enumerate(cfg.dense_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        x = keras.layers.Dropout(cfg.dropout, name=f"dropout{i}")(x)
    out = keras.layers.Dense(
        n_classes, activation="sigmoid" if multilabel else "softmax", name="probs")(x)
    return keras.Model(inputs=inputs, outputs=out, name=_model_name(cfg))


def guided_mask(model: keras.Model, inputs, layer_name: str = "guided_attention"):
    """The guidance mask (batch, T_block, 1) that ``model``'s GuidedAttention layer applies.

    ``inputs`` is what the model takes (``[ecg, prior]`` or a dict keyed "ecg"/"prior"). Raises
    ``ValueError`` when the model has no guided attention.
    """
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise ValueError(f"model {model.name!r} has no layer {layer_name!r}") from None
    feats, prior = keras.Model(model.inputs, layer.input)(inputs, training=False)
    return layer.compute_mask_values(feats, prior)
