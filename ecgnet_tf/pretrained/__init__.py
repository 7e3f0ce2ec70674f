"""Pretrained models shipped with the package (see :mod:`.registry`); published by
``python -m ecgnet_tf.reproduce --publish``, listed by ``python -m ecgnet_tf.models``."""
from .registry import (DEFAULT_ANALYZE, NAMES, PRETRAINED_DIR, Pretrained, available, is_available, load,
                       resolve_model, verify)

__all__ = ["DEFAULT_ANALYZE", "NAMES", "PRETRAINED_DIR", "Pretrained", "available", "is_available", "load",
           "resolve_model", "verify"]
