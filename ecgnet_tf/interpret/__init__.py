"""Interpretability for ecgnet: CAMs over time (tf-keras-vis), the model's attention maps, zone and
lead attribution, the top-attention overlap metric, Figure-1 style plots and an attention-exporting
TFLite model. The command line is :mod:`ecgnet_tf.explain`.

Modules, one job each: ``resample`` (feature map -> input length, 0..1), ``zones`` (QRS / ST-T / PR
/ baseline), ``overlap`` (the overlap metric), ``layers`` (which layer to read), ``cam`` (Grad-CAM,
Grad-CAM++, ScoreCAM, gradient x input), ``attention`` (attention maps, attention TFLite model),
``windows`` (record windows with R peaks, as training cuts them), ``pipeline`` (explain windows),
``figures`` (plots), ``report`` (attribution.json / .md).
"""
from __future__ import annotations

import ecgnet_tf as _ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

from .overlap import chance_hit, region_hits, top_region
from .resample import normalize01, resample_to_length
from .zones import ZONES, ZoneConfig, zone_labels, zone_shares

__all__ = ["ZONES", "ZoneConfig", "chance_hit", "normalize01", "region_hits", "resample_to_length", "top_region",
           "zone_labels", "zone_shares"]
