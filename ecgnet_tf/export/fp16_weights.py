"""Store the float32 weights of a TFLite model's float ops as float16 (the float16-weights pattern).

A float fallback (:mod:`ecgnet_tf.export.fallback`) keeps some ops of an int8 model in float32, and
with them their weights in float32: four bytes per weight instead of one. :func:`float16_weights`
rewrites the flatbuffer so that every large float32 constant read only by the ops in ``ops`` is
stored as float16 (two bytes per weight) and turned back into float32 by a DEQUANTIZE op (float16
-> float32) placed at the start of the graph, the layout TFLite's own float16 conversion writes.
The ops still compute in float32; only the stored weights are rounded to float16 (error at most
2**-11, about 5e-4, of the tensor's largest magnitude). The DEQUANTIZE ops only read constants; with
``export.benchmark --compare`` the MIT-BIH model with float16 LSTM weights ran as fast as the same
model with float32 LSTM weights.

Small constants (fewer than ``min_elements`` values: biases, scalars) stay float32: they cost little
and some kernels read them at prepare time.
"""
from __future__ import annotations

import numpy as np

from .requant import _builtin_names, _op_name, _unpack
from .tflite import pack_model

#: float kernels that read their weights from any float32 tensor (so also from a DEQUANTIZE output)
WEIGHT_OPS = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM", "FULLY_CONNECTED", "CONV_2D",
              "DEPTHWISE_CONV_2D", "BATCH_MATMUL")
_FLOAT32, _FLOAT16 = 0, 1  # TFLite TensorType codes


def _consumers(sg) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for k, op in enumerate(sg.operators):
        for i in op.inputs if op.inputs is not None else []:
            if int(i) >= 0:
                out.setdefault(int(i), []).append(k)
    return out


def _dequantize_code(model, schema, names: dict[int, str]) -> int:
    """The operator-code index of DEQUANTIZE (version >= 3: float16 input), added if missing."""
    for i, c in enumerate(model.operatorCodes):
        if names.get(max(int(c.builtinCode), int(c.deprecatedBuiltinCode))) == "DEQUANTIZE":
            c.version = max(int(c.version), 3)
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.DEQUANTIZE
    code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
    code.version = 3
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def float16_weights(data: bytes, ops: tuple[str, ...] = WEIGHT_OPS,
                    min_elements: int = 256) -> tuple[bytes, list[dict]]:
    """``data`` (TFLite bytes) with every float32 constant of at least ``min_elements`` values whose
    readers are all ``ops`` stored as float16 behind a DEQUANTIZE op (see the module docstring).

    Returns (bytes, one row per converted tensor: subgraph, name, shape, readers, bytes before and
    after, ``max_relative_error``: the largest rounding error over the tensor's largest magnitude).
    A model without such constants comes back unchanged.
    """
    from ai_edge_litert import schema_py_generated as schema

    model = _unpack(data)
    names = _builtin_names()
    rows: list[dict] = []
    for s, sg in enumerate(model.subgraphs):
        readers = _consumers(sg)
        io = set(int(i) for i in (sg.inputs if sg.inputs is not None else [])) | \
            set(int(i) for i in (sg.outputs if sg.outputs is not None else []))
        users: dict[int, list[int]] = {}  # buffer -> tensors using it
        for t_index, t in enumerate(sg.tensors):
            users.setdefault(int(t.buffer), []).append(t_index)
        inserted = []
        for t_index, t in enumerate(list(sg.tensors)):
            buf = model.buffers[t.buffer] if 0 < t.buffer < len(model.buffers) else None
            if t.type != _FLOAT32 or buf is None or buf.data is None or len(buf.data) < 4 * min_elements:
                continue
            if t_index in io or t.isVariable or len(users[int(t.buffer)]) != 1:
                continue
            kinds = sorted({_op_name(model, sg.operators[k], names) for k in readers.get(t_index, [])})
            if not kinds or any(k not in ops for k in kinds):
                continue
            w32 = np.frombuffer(bytes(bytearray(buf.data)), dtype="<f4")
            w16 = w32.astype("<f2")
            if not np.all(np.isfinite(w16)):  # beyond float16's range (65504): keep float32
                continue
            half = schema.TensorT()
            half.name = (t.name or b"") + b"/float16"
            half.shape = t.shape
            half.type = _FLOAT16
            half.buffer = t.buffer
            buf.data = np.frombuffer(w16.tobytes(), dtype=np.uint8)
            t.buffer = 0  # now written by DEQUANTIZE at run time
            sg.tensors.append(half)
            op = schema.OperatorT()
            op.opcodeIndex = -1  # set below, once the DEQUANTIZE code exists
            op.inputs = [len(sg.tensors) - 1]
            op.outputs = [t_index]
            op.builtinOptionsType = schema.BuiltinOptions.DequantizeOptions
            op.builtinOptions = schema.DequantizeOptionsT()
            inserted.append(op)
            rows.append({"subgraph": s, "tensor": (t.name or b"").decode(errors="replace"),
                         "shape": [int(v) for v in t.shape] if t.shape is not None else [], "readers": kinds,
                         "float32_bytes": int(w32.nbytes), "stored_bytes": int(w16.nbytes),
                         "max_relative_error": float(np.max(np.abs(w16.astype(np.float32) - w32))
                                                           / max(float(np.max(np.abs(w32))), 1e-30))})
        if inserted:
            code = _dequantize_code(model, schema, names)
            for op in inserted:
                op.opcodeIndex = code
            sg.operators[0:0] = inserted
    if not rows:
        return bytes(data), []
    return pack_model(model, len(data)), rows
