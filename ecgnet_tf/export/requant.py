"""Find and repair int8 tensors whose quantisation parameters a kernel silently ignores.

Some TFLite int8 kernels copy their input's int8 codes to the output without rescaling: REVERSE_V2
(and the other data-movement ops in :data:`SAME_SCALE_OPS`), and UNIDIRECTIONAL_SEQUENCE_LSTM, whose
output is a copy of its hidden-state variable. The converter's quantiser propagates one scale
through such ops, but when two constraints meet (e.g. a CONCATENATION that joins the BiLSTM's
pooled output, range about +-1, with the RR branch, range 0..3.6) it can leave the op's output
with a different (scale, zero point) than its input or state. The codes are then read in the
wrong units: in the MIT-BIH beat model the second BiLSTM's REVERSE_V2 went from (0.0074, -2) to
(0.0176, -76), an offset of 1.3 on values of +-1 (relative RMS error 10, ``export.inspect``).

:func:`scale_mismatches` lists every such op (which op, which tensors, which parameters).
:func:`repair` gives each one an output tensor in the units the kernel really writes and inserts a
requantising QUANTIZE (int8 -> int8) op to the original output: the model stays fully int8, a few
bytes larger, and computes what the quantiser intended.
"""
from __future__ import annotations

import numpy as np

from .tflite import check_flatbuffer, pack_model

#: int8 kernels that move codes without rescaling (output must have the input's parameters)
SAME_SCALE_OPS = ("REVERSE_V2", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "STRIDED_SLICE", "SLICE",
                  "GATHER", "SPLIT", "MAX_POOL_2D", "REDUCE_MAX", "PAD")
#: UNIDIRECTIONAL_SEQUENCE_LSTM's hidden-state (variable) input: the output is a copy of it
LSTM_OUTPUT_STATE_INPUT = 18
_REL_TOL = 1e-3  # scales within 0.1 % and equal zero points count as equal


def _builtin_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def _qparams(tensor) -> tuple[float, int] | None:
    """(scale, zero point) of a per-tensor quantised tensor, else None."""
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) != 1 or q.zeroPoint is None:
        return None
    return float(q.scale[0]), int(q.zeroPoint[0])


def _op_name(model, op, names: dict[int, str]) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    return names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode)), "CUSTOM")


def _source_index(name: str, op) -> int | None:
    """The input whose parameters the op's output must carry (None: the op is not a copying kernel)."""
    if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        return LSTM_OUTPUT_STATE_INPUT if len(op.inputs) > LSTM_OUTPUT_STATE_INPUT else None
    return 0 if name in SAME_SCALE_OPS else None


def _mismatches(model) -> list[dict]:
    names = _builtin_names()
    rows = []
    for s, sg in enumerate(model.subgraphs):
        for k, op in enumerate(sg.operators):
            name = _op_name(model, op, names)
            src = _source_index(name, op)
            if src is None or op.inputs[src] < 0:
                continue
            t_in = sg.tensors[op.inputs[src]]
            q_in = _qparams(t_in)
            if q_in is None or t_in.type != 9:  # int8 only
                continue
            for o in op.outputs:
                t_out = sg.tensors[o]
                q_out = _qparams(t_out)
                if q_out is None or t_out.type != 9:
                    continue
                if abs(q_out[0] - q_in[0]) <= _REL_TOL * q_in[0] and q_out[1] == q_in[1]:
                    continue
                ratio = q_in[0] / q_out[0]
                # value error of reading codes c written in (s_in, z_in) as (s_out, z_out), for c in int8
                codes = np.arange(-128, 128, dtype=np.float64)
                err = np.abs((codes - q_out[1]) * q_out[0] - (codes - q_in[1]) * q_in[0])
                rows.append({"subgraph": s, "op_index": k, "op": name, "input": t_in.name.decode(errors="replace"),
                             "output": t_out.name.decode(errors="replace"), "output_tensor": int(o),
                             "input_scale": q_in[0], "input_zero_point": q_in[1],
                             "output_scale": q_out[0], "output_zero_point": q_out[1],
                             "scale_ratio": ratio, "max_value_error": float(err.max()),
                             "relative_value_error": float(err.max() / (128 * q_out[0]))})
    return rows


def _unpack(data: bytes):
    from ai_edge_litert import schema_py_generated as schema

    check_flatbuffer(data)
    return schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))


def scale_mismatches(data: bytes) -> list[dict]:
    """Ops of ``data`` (TFLite bytes) whose int8 output parameters differ from those of the input (or LSTM
    hidden state) the kernel copies: one row per op output, with both (scale, zero point), the
    scale ratio and the largest value error (real units) of reading the codes in the wrong units."""
    return _mismatches(_unpack(data))


def repair(data: bytes, min_relative_error: float = 0.0) -> tuple[bytes, list[dict]]:
    """``data`` with every :func:`scale_mismatches` op (``relative_value_error`` above
    ``min_relative_error``) writing to a new tensor in its source's units, followed by a QUANTIZE
    (int8 -> int8 requantisation) to the original output tensor. Returns (bytes, the repaired rows)."""
    import copy

    from ai_edge_litert import schema_py_generated as schema

    model = _unpack(data)
    rows = [r for r in _mismatches(model) if r["relative_value_error"] > min_relative_error]
    if not rows:
        return bytes(data), []
    names = _builtin_names()
    quantize_code = next((i for i, c in enumerate(model.operatorCodes)
                          if names.get(max(int(c.builtinCode), int(c.deprecatedBuiltinCode))) == "QUANTIZE"), None)
    if quantize_code is None:
        code = schema.OperatorCodeT()
        code.builtinCode = schema.BuiltinOperator.QUANTIZE
        code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
        code.version = 2
        model.operatorCodes.append(code)
        quantize_code = len(model.operatorCodes) - 1
    by_op: dict[tuple[int, int], list[dict]] = {}
    for r in rows:
        by_op.setdefault((r["subgraph"], r["op_index"]), []).append(r)
    for (s, k) in sorted(by_op, reverse=True):  # from the back, so earlier op indices stay valid
        sg = model.subgraphs[s]
        op = sg.operators[k]
        inserted = []
        for r in by_op[(s, k)]:
            out = sg.tensors[r["output_tensor"]]
            mid = copy.deepcopy(out)
            mid.name = out.name + b"/requant_src"
            mid.buffer = 0  # no constant data: an activation
            mid.quantization.scale = [r["input_scale"]]
            mid.quantization.zeroPoint = [r["input_zero_point"]]
            sg.tensors.append(mid)
            mid_index = len(sg.tensors) - 1
            op.outputs = [mid_index if int(o) == r["output_tensor"] else int(o) for o in op.outputs]
            q = schema.OperatorT()
            q.opcodeIndex = quantize_code
            q.inputs = [mid_index]
            q.outputs = [r["output_tensor"]]
            q.builtinOptionsType = schema.BuiltinOptions.QuantizeOptions
            q.builtinOptions = schema.QuantizeOptionsT()
            inserted.append(q)
        sg.operators[k + 1:k + 1] = inserted
    return pack_model(model, len(data) + 4096), rows
