"""ecgnet network: configurations, custom layers, model builder and FLOP counting."""
from __future__ import annotations

import ecgnet_tf as _ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

from .build import build_model, guided_mask, multiscale_block, resu_block
from .config import CONFIG_NAMES, LADDER, ModelConfig, get_model_config
from .flops import count_flops, count_params, profiler_flops
from .layers import (
    ClipToUnit,
    GuidedAttention,
    PositionalEncoding,
    SpatialAttention,
    SqueezeExcitation,
    custom_objects,
)

__all__ = [
    "CONFIG_NAMES",
    "LADDER",
    "ModelConfig",
    "get_model_config",
    "build_model",
    "guided_mask",
    "multiscale_block",
    "resu_block",
    "count_flops",
    "count_params",
    "profiler_flops",
    "ClipToUnit",
    "GuidedAttention",
    "PositionalEncoding",
    "SpatialAttention",
    "SqueezeExcitation",
    "custom_objects",
]
