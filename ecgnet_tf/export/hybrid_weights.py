"""Store the float32 weights of a TFLite model's float LSTMs and fully-connected ops as int8 ("hybrid" kernels).

A float fallback (:mod:`ecgnet_tf.export.fallback`) keeps ops in float32: a BiLSTM's sequence-LSTM ops
then run faster than on LiteRT's int8 LSTM kernel, and no layer loses accuracy to activation
quantisation, but every weight takes four bytes. :func:`int8_weights` stores the weight matrices of
the float ops with a hybrid kernel in LiteRT (:data:`HYBRID_WEIGHT_INPUTS`: an
UNIDIRECTIONAL_SEQUENCE_LSTM's gate weights, inputs 1-8; a FULLY_CONNECTED's weights, input 1) as
int8, one symmetric scale per tensor (zero point 0, scale = max |w| / 127), the layout of the
converter's dynamic-range quantisation. LiteRT then runs its hybrid kernels: activations (and an
LSTM's cell state) stay float32, each input row is quantised on the fly for the int8 matrix
product. Biases stay float32. One byte per weight, as in the all-int8 model, so the float fallback
costs (almost) no file size.
"""
from __future__ import annotations

import numpy as np

from .requant import _builtin_names, _op_name, _unpack
from .tflite import pack_model

#: op -> the inputs holding its weight matrices (LSTM: input-to-gate 1-4, recurrent 5-8)
HYBRID_WEIGHT_INPUTS = {"UNIDIRECTIONAL_SEQUENCE_LSTM": tuple(range(1, 9)), "FULLY_CONNECTED": (1,)}
_FLOAT32, _INT8 = 0, 9  # TFLite TensorType codes


def int8_weights(data: bytes, ops: tuple[str, ...] = tuple(HYBRID_WEIGHT_INPUTS)) -> tuple[bytes, list[dict]]:
    """``data`` (TFLite bytes) with the float32 weight matrices of every float op of type ``ops`` stored
    as int8 (see the module docstring). An op is converted only when its input 0 is float32 and all
    its weight matrices are float32 constants read by nothing else.

    Returns (bytes, one row per tensor: subgraph, name, shape, readers, bytes before and after,
    ``max_relative_error``: the largest rounding error over the tensor's largest magnitude).
    """
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
            kind = _op_name(model, op, names)
            slots = HYBRID_WEIGHT_INPUTS.get(kind) if kind in ops else None
            if not slots or len(op.inputs) <= max(slots) or op.inputs[0] < 0:
                continue
            if sg.tensors[op.inputs[0]].type != _FLOAT32:  # an int8 op: nothing to do
                continue
            idx = [int(op.inputs[k]) for k in slots]
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
                             "readers": [kind], "float32_bytes": int(w.nbytes),
                             "stored_bytes": int(q.nbytes),
                             "max_relative_error": float(np.max(np.abs(q * scale - w)) / top) if top > 0 else 0.0})
    if not rows:
        return bytes(data), []
    return pack_model(model, len(data)), rows
