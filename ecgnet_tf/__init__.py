"""ecgnet: multi-scale attention ECG classifier with honest evaluation and int8 edge export.

The project uses the Keras 2 API (`tf_keras`) throughout, because tensorflow-model-optimization
needs it. Setting ``TF_USE_LEGACY_KERAS`` before TensorFlow is imported makes ``tf.keras`` resolve
to the same implementation, so TF utilities (TFLite converter, tfmot) see one Keras.

Importing the package also keeps TensorFlow's start-up noise (absl pre-init warning, oneDNN notice,
and on machines without an NVIDIA driver the "cuda drivers" / cuInit lines) off stderr; see
:mod:`ecgnet_tf.quiet`. Every setting is a default the environment overrides: ``TF_CPP_MIN_LOG_LEVEL``
(default 2: C++ errors shown, info and warnings hidden; 0 also turns the filter off) and
``ECGNET_QUIET_TF=0`` (filter off).
"""
import os as _os

from . import quiet as _quiet

_user_min_log_level = _os.environ.get("TF_CPP_MIN_LOG_LEVEL")
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_quiet.install(_user_min_log_level)

__version__ = "0.1.0"
