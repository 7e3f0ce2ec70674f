"""ecgnet: multi-scale attention ECG classifier with honest evaluation and int8 edge export.

The project uses the Keras 2 API (`tf_keras`) throughout, because tensorflow-model-optimization
needs it. Setting ``TF_USE_LEGACY_KERAS`` before TensorFlow is imported makes ``tf.keras`` resolve
to the same implementation, so TF utilities (TFLite converter, tfmot) see one Keras.
"""
import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
