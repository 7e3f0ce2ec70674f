"""The edge model converts to a full-int8 TFLite model with builtin ops only (batch 1)."""
from __future__ import annotations

import numpy as np
import pytest

import tf_keras as keras

from ecgnet_tf.model import build_model, get_model_config

pytestmark = pytest.mark.slow


def test_edge_int8_builtin_ops_only():
    from ecgnet_tf.export.tflite import TFLiteRunner, assert_builtin_only
    from ecgnet_tf.model_report import convert_int8

    keras.backend.clear_session()
    t, leads = 3600, 12
    model = build_model(get_model_config("edge"), t, leads, 5, batch_size=1)
    rng = np.random.default_rng(0)
    blob = convert_int8(model, leads, t, n_calibration=4)
    assert_builtin_only(blob)

    runner = TFLiteRunner(blob, num_threads=1)
    ops = runner.op_names()
    assert not any(name.startswith("Flex") for name in ops), ops
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops or "BIDIRECTIONAL_SEQUENCE_LSTM" in ops, ops
    assert not any("CUSTOM" in name for name in ops), ops

    assert runner.input_shape("ecg") == (1, t, leads) and runner.input_shape("prior") == (1, t, 1)
    probs = runner.predict(rng.standard_normal((2, t, leads)), rng.random((2, t)))
    assert probs.shape == (2, 5)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=0.05)
