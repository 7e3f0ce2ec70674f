"""Make a TFLite file smaller without touching what it computes: short names for internal tensors.

The converter names every tensor after the TensorFlow ops it came from
(``model/block/dense0/MatMul;model/block/dense0/Relu;...``); in the exported beat model those names
were about a tenth of the file (``python -m export.inspect`` shows it). :func:`shorten_tensor_names`
renames every tensor that is not a model input or output and not named by a signature to ``t<index>``
(the interpreter addresses tensors by index; names are for people), so the operators, weights,
quantisation parameters and results are unchanged: bit-identical outputs (tested).
"""
from __future__ import annotations

from .tflite import check_flatbuffer, pack_model


def _protected(model) -> list[set[int]]:
    """Per subgraph, the tensor indices whose names are kept (inputs, outputs, signature tensors)."""
    keep = [set(int(i) for i in (sg.inputs if sg.inputs is not None else [])) |
            set(int(i) for i in (sg.outputs if sg.outputs is not None else [])) for sg in model.subgraphs]
    for sig in model.signatureDefs or []:
        for t in list(sig.inputs or []) + list(sig.outputs or []):
            keep[sig.subgraphIndex].add(int(t.tensorIndex))
    return keep


def shorten_tensor_names(data: bytes) -> bytes:
    """``data`` (a TFLite flatbuffer) with internal tensors renamed ``t<index>`` (see the module docstring)."""
    from ai_edge_litert import schema_py_generated as schema

    check_flatbuffer(data)
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    keep = _protected(model)
    for s, sg in enumerate(model.subgraphs):
        for i, t in enumerate(sg.tensors):
            if i not in keep[s]:
                t.name = f"t{i}".encode()
    return pack_model(model, len(data))
