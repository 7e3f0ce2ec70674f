"""Where a TFLite model's latency goes, measured: the model cut after its k-th op, timed for every k.

LiteRT's Python API has no per-op profiler, so :func:`prefix_latency` times truncated copies of the
model (operators ``0..k`` kept, op ``k``'s first output made the model output) with the same
interpreter settings as :mod:`.benchmark` (XNNPACK, one thread, LSTM state reset per run); the
difference between consecutive cuts is what those ops cost, delegate partitions included.
:func:`compare_sections` lines up an int8 model with the float32 model of the same graph (the int8
model's extra QUANTIZE / DEQUANTIZE ops are skipped when counting ops) and reports, per section of
ops, both models' milliseconds: which ops make int8 slower.
"""
from __future__ import annotations

import time

import numpy as np

from .tflite import check_flatbuffer, pack_model

_QDQ = ("QUANTIZE", "DEQUANTIZE")


def _ops(data: bytes) -> list[str]:
    from ai_edge_litert import schema_py_generated as schema

    from .tflite import _builtin_names

    names = _builtin_names()
    m = schema.Model.GetRootAs(data, 0)
    sg = m.Subgraphs(0)
    out = []
    for j in range(sg.OperatorsLength()):
        c = m.OperatorCodes(sg.Operators(j).OpcodeIndex())
        out.append(names.get(max(int(c.BuiltinCode()), int(c.DeprecatedBuiltinCode())), "CUSTOM"))
    return out


def truncate(data: bytes, k: int) -> bytes:
    """``data`` with only operators ``0..k`` of subgraph 0, op ``k``'s first output as the model output."""
    from ai_edge_litert import schema_py_generated as schema

    check_flatbuffer(data)
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    sg = model.subgraphs[0]
    sg.operators = sg.operators[:k + 1]
    sg.outputs = [int(sg.operators[k].outputs[0])]
    model.signatureDefs = []
    return pack_model(model, len(data) + 1024, check=False)


def _timer(data: bytes, seed: int = 0):
    from .tflite import make_interpreter

    interp = make_interpreter(data, num_threads=1, xnnpack=True)
    rng = np.random.default_rng(seed)
    for d in interp.get_input_details():
        dt = np.dtype(d["dtype"])
        x = (rng.integers(-128, 128, size=d["shape"]) if dt.kind in "iu" else rng.standard_normal(d["shape"]))
        interp.set_tensor(d["index"], x.astype(dt))

    def once() -> float:
        t0 = time.perf_counter_ns()
        interp.reset_all_variables()
        interp.invoke()
        return (time.perf_counter_ns() - t0) / 1e6

    return once


def compare_sections(int8: bytes, float32: bytes, sections: int = 12, runs: int = 60, warmup: int = 5) -> dict:
    """Both models cut at ``sections`` matching points (op counts without QUANTIZE / DEQUANTIZE), timed
    interleaved; per section: op types, int8 ms, float32 ms (p50 of the cut minus p50 of the previous cut)."""
    ops8, ops32 = _ops(int8), _ops(float32)
    core8 = [k for k, name in enumerate(ops8) if name not in _QDQ]
    core32 = [k for k, name in enumerate(ops32) if name not in _QDQ]
    if [ops8[k] for k in core8] != [ops32[k] for k in core32]:
        raise ValueError("the two models' op sequences differ (apart from QUANTIZE / DEQUANTIZE): not the same graph")
    n = len(core8)
    cuts = sorted({int(round(n * (i + 1) / sections)) - 1 for i in range(sections)})
    timers = [(_timer(truncate(int8, core8[c])), _timer(truncate(float32, core32[c]))) for c in cuts]
    times = [([], []) for _ in cuts]
    for _ in range(warmup):
        for a, b in timers:
            a(), b()
    for _ in range(runs):
        for (a, b), (ta, tb) in zip(timers, times):
            ta.append(a())
            tb.append(b())
    p50 = [(float(np.median(ta)), float(np.median(tb))) for ta, tb in times]
    rows, prev, prev_t = [], -1, (0.0, 0.0)
    for c, t in zip(cuts, p50):
        kinds: dict[str, int] = {}
        for k in range(prev + 1, c + 1):
            kinds[ops32[core32[k]]] = kinds.get(ops32[core32[k]], 0) + 1
        rows.append({"ops": f"{prev + 1}-{c}", "op_types": kinds, "int8_ms": t[0] - prev_t[0],
                     "float32_ms": t[1] - prev_t[1], "int8_cumulative_ms": t[0], "float32_cumulative_ms": t[1]})
        prev, prev_t = c, t
    return {"n_ops": n, "runs": runs, "sections": rows,
            "note": "p50 of the model cut after the section minus p50 of the model cut before it (XNNPACK, 1 thread)"}
