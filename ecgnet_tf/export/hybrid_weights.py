"""Store the float32 weights of a TFLite model's float LSTMs as int8 (dynamic-range, "hybrid" kernels).

A float fallback of a BiLSTM (:mod:`ecgnet_tf.export.fallback`) keeps its sequence-LSTM ops in float32:
faster than LiteRT's int8 LSTM kernel and free of activation quantisation, but four bytes per weight.
:func:`int8_weights` stores the gate weights (inputs 1-8: input-to-gate and recurrent matrices) of
every float32 UNIDIRECTIONAL_SEQUENCE_LSTM as int8, one symmetric scale per tensor (zero point 0,
scale = max |w| / 127), the layout of the converter's dynamic-range quantisation. LiteRT then runs
its hybrid kernel: activations and cell state stay float32, each step's input and hidden state are
quantised on the fly for the int8 matrix products. Biases stay float32. One byte per weight, as in
the all-int8 model, so the float fallback costs (almost) no file size.
"""
from __future__ import annotations

import numpy as np

from .requant import _builtin_names, _op_name, _unpack
from .tflite import check_flatbuffer

#: UNIDIRECTIONAL_SEQUENCE_LSTM inputs holding the gate weight matrices (input-to-gate 1-4, recurrent 5-8)
LSTM_WEIGHT_INPUTS = tuple(range(1, 9))
_FLOAT32, _INT8 = 0, 9  # TFLite TensorType codes


def int8_weights(data: bytes) -> tuple[bytes, list[dict]]:
    """``data`` (TFLite bytes) with the float32 gate weights of every sequence LSTM stored as int8 (see
    the module docstring). An LSTM is converted only when all eight gate weights are float32 constants
    read by nothing else. Returns (bytes, one row per tensor: subgraph, name, shape, readers, bytes before
    and after, ``max_relative_error``: largest rounding error over the tensor's largest magnitude)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = _unpack(data)
    names = _builtin_names()
    rows: list[dict] = []
    for s, sg in enumerate(model.subgraphs):
        readers: dict[int, int] = {}
        for op in sg.operators:
            for i in op.inputs if op.inputs is not None else []:
                readers[int(i)] = readers.get(int(i), 0) + 1
        buffer_users: dict[int, int] = {}
        for t in sg.tensors:
            buffer_users[int(t.buffer)] = buffer_users.get(int(t.buffer), 0) + 1
        for op in sg.operators:
            if _op_name(model, op, names) != "UNIDIRECTIONAL_SEQUENCE_LSTM" or len(op.inputs) <= max(LSTM_WEIGHT_INPUTS):
                continue
            idx = [int(op.inputs[k]) for k in LSTM_WEIGHT_INPUTS]
            tensors = [sg.tensors[i] for i in idx]
            if any(i < 0 or t.type != _FLOAT32 or not 0 < t.buffer < len(model.buffers)
                   or model.buffers[t.buffer].data is None or readers.get(i) != 1 or buffer_users[int(t.buffer)] != 1
                   for i, t in zip(idx, tensors)):
                continue
            for t in tensors:
                buf = model.buffers[t.buffer]
                w = np.frombuffer(bytes(bytearray(buf.data)), dtype="<f4")
                top = float(np.max(np.abs(w))) if w.size else 0.0
                scale = top / 127.0 if top > 0 else 1.0
                q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
                buf.data = np.frombuffer(q.tobytes(), dtype=np.uint8)
                t.type = _INT8
                qp = schema.QuantizationParametersT()
                qp.scale, qp.zeroPoint = [scale], [0]
                t.quantization = qp
                rows.append({"subgraph": s, "tensor": (t.name or b"").decode(errors="replace"),
                             "shape": [int(v) for v in t.shape] if t.shape is not None else [],
                             "readers": ["UNIDIRECTIONAL_SEQUENCE_LSTM"], "float32_bytes": int(w.nbytes),
                             "stored_bytes": int(q.nbytes),
                             "max_relative_error": float(np.max(np.abs(q * scale - w)) / top) if top > 0 else 0.0})
    if not rows:
        return bytes(data), []
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out = bytes(builder.Output())
    check_flatbuffer(out)
    return out, rows
