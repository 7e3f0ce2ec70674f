"""The edge model converts to a full-int8 TFLite model with builtin ops only (batch 1)."""
from __future__ import annotations

import numpy as np
import pytest

import ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
import tensorflow as tf
import tf_keras as keras

from ecgnet_tf.model import build_model, get_model_config

pytestmark = pytest.mark.slow


def test_edge_int8_builtin_ops_only():
    from ecgnet_tf.model_report import convert_int8

    from ai_edge_litert.interpreter import Interpreter

    keras.backend.clear_session()
    t, leads = 3600, 12
    model = build_model(get_model_config("edge"), t, leads, 5, batch_size=1)
    rng = np.random.default_rng(0)
    blob = convert_int8(model, leads, t, n_calibration=4)

    interp = Interpreter(model_content=blob, num_threads=1)
    interp.allocate_tensors()
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert not any(name.startswith("Flex") for name in ops), ops
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops or "BIDIRECTIONAL_SEQUENCE_LSTM" in ops, ops
    assert not any("CUSTOM" in name for name in ops), ops

    details = interp.get_input_details()
    assert sorted(tuple(d["shape"]) for d in details) == [(1, t, 1), (1, t, leads)]
    for d in details:
        data = rng.standard_normal(d["shape"]) if d["shape"][-1] == leads else rng.random(d["shape"])
        interp.set_tensor(d["index"], data.astype(d["dtype"]))
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert out.shape == (1, 5)
    assert abs(float(out.sum()) - 1.0) < 0.05
