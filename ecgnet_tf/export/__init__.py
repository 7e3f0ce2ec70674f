"""Edge export: int8 / float TFLite conversion, parity checks and on-device latency benchmarks."""
import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
