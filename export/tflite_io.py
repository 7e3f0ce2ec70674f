"""TFLite flatbuffer helpers without TensorFlow: read/validate a model, op histogram, Flex check,
and a small batch-1 runner around the LiteRT interpreter (XNNPACK on by default).

Only ``ai_edge_litert`` and numpy are imported here, so the benchmark can measure a process that
never loaded TensorFlow.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

FLEX_PREFIX = "Flex"


class ModelFileError(Exception):
    """A .tflite file is missing, unreadable or not a TFLite flatbuffer (message names the file)."""


class FlexOpsError(ValueError):
    """The model contains TensorFlow (Flex / SELECT_TF_OPS) or other custom ops."""


def read_tflite(path: str | Path) -> bytes:
    """The bytes of a TFLite model file; ``ModelFileError`` (one line, naming the file) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such .tflite file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    check_flatbuffer(data, name=str(path))
    return data


def check_flatbuffer(data: bytes, name: str = "model") -> None:
    """Raise ``ModelFileError`` unless ``data`` parses as a TFLite model with at least one subgraph."""
    from ai_edge_litert import schema_py_generated as schema

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFileError(f"{name}: not a TFLite model (no 'TFL3' flatbuffer identifier; corrupt or wrong file)")
    try:
        model = schema.Model.GetRootAs(data, 0)
        n_sub = model.SubgraphsLength()
        n_codes = model.OperatorCodesLength()
        for i in range(n_codes):
            model.OperatorCodes(i).BuiltinCode()
    except Exception as exc:  # flatbuffers raises assorted errors on truncated buffers
        raise ModelFileError(f"{name}: corrupt TFLite flatbuffer ({type(exc).__name__})") from None
    if n_sub < 1:
        raise ModelFileError(f"{name}: corrupt TFLite flatbuffer (no subgraph)")


def _builtin_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def op_histogram(data: bytes) -> dict[str, int]:
    """Operator counts over all subgraphs, read from the flatbuffer (before any delegate runs).

    Builtin ops appear under their schema name (``CONV_2D``, ``UNIDIRECTIONAL_SEQUENCE_LSTM``);
    custom ops under their custom code (Flex ops are ``Flex<TfOpName>``, e.g. ``FlexBincount``).
    """
    from ai_edge_litert import schema_py_generated as schema

    check_flatbuffer(data)
    names = _builtin_names()
    model = schema.Model.GetRootAs(data, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        if code == schema.BuiltinOperator.CUSTOM:
            custom = oc.CustomCode()
            codes.append(custom.decode() if custom else "CUSTOM")
        else:
            codes.append(names.get(code, f"BUILTIN_{code}"))
    hist: Counter[str] = Counter()
    for s in range(model.SubgraphsLength()):
        sub = model.Subgraphs(s)
        for j in range(sub.OperatorsLength()):
            hist[codes[sub.Operators(j).OpcodeIndex()]] += 1
    return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))


def flex_ops(ops: dict[str, int] | list[str]) -> list[str]:
    """Names of Flex (SELECT_TF_OPS) ops in an op histogram or op-name list."""
    return sorted({name for name in ops if name.startswith(FLEX_PREFIX)})


def custom_ops(ops: dict[str, int] | list[str]) -> list[str]:
    """Names of non-builtin ops (Flex or other custom ops): anything not in the builtin schema."""
    builtin = set(_builtin_names().values()) - {"CUSTOM"}
    return sorted({name for name in ops if name not in builtin})


def assert_builtin_only(tflite: bytes | dict[str, int] | list[str]) -> dict[str, int] | None:
    """Raise ``FlexOpsError`` if the model (bytes) or op list uses Flex or other custom ops.

    Returns the op histogram when given model bytes.
    """
    ops = op_histogram(tflite) if isinstance(tflite, (bytes, bytearray)) else tflite
    bad = custom_ops(ops)
    if bad:
        flex = flex_ops(bad)
        kind = "Flex (SELECT_TF_OPS)" if flex else "custom"
        raise FlexOpsError(f"model is not builtin-only: {kind} ops {bad}")
    return ops if isinstance(tflite, (bytes, bytearray)) else None


# ---------------------------------------------------------------------------------------------- runner
def make_interpreter(model_content: bytes, num_threads: int = 1, xnnpack: bool = True):
    """A LiteRT interpreter (XNNPACK delegate by default), tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=model_content, num_threads=num_threads,
                         experimental_op_resolver_type=kind)
    interp.allocate_tensors()
    return interp


def _qparams(d: dict) -> tuple[float, int]:
    scale, zero = d.get("quantization", (0.0, 0))
    return float(scale), int(zero)


def io_details(interp) -> dict:
    """Input/output names, shapes, dtypes and quantisation (scale, zero point) as plain JSON."""
    def one(d):
        scale, zero = _qparams(d)
        return {"name": d["name"], "shape": [int(v) for v in d["shape"]], "dtype": np.dtype(d["dtype"]).name,
                "scale": scale, "zero_point": zero}

    return {"inputs": [one(d) for d in interp.get_input_details()],
            "outputs": [one(d) for d in interp.get_output_details()]}


class TFLiteClassifier:
    """Runs an ecgnet .tflite (inputs ``ecg`` (1, T, C) and ``prior`` (1, T, 1)) one window at a time.

    Float inputs are quantised / outputs de-quantised when the model has integer I/O.
    """

    def __init__(self, model_content: bytes, num_threads: int = 1):
        self.interp = make_interpreter(model_content, num_threads)
        ins = self.interp.get_input_details()
        self._ecg = next((d for d in ins if "ecg" in d["name"]), None)
        self._prior = next((d for d in ins if "prior" in d["name"]), None)
        if self._ecg is None or self._prior is None:
            if len(ins) != 2:
                raise ValueError(f"expected inputs 'ecg' and 'prior', got {[d['name'] for d in ins]}")
            self._ecg, self._prior = ins
        self._out = self.interp.get_output_details()[0]

    @staticmethod
    def _to_input(d, x: np.ndarray) -> np.ndarray:
        dtype = np.dtype(d["dtype"])
        if dtype.kind in "iu":
            scale, zero = _qparams(d)
            info = np.iinfo(dtype)
            return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)
        return x.astype(dtype)

    def _from_output(self, y: np.ndarray) -> np.ndarray:
        if np.dtype(self._out["dtype"]).kind in "iu":
            scale, zero = _qparams(self._out)
            return (y.astype(np.float64) - zero) * scale
        return y.astype(np.float64)

    def predict(self, ecg: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """Probabilities (n, K) for z-scored windows ``ecg`` (n, T, C) and priors (n, T) or (n, T, 1)."""
        ecg = np.asarray(ecg, np.float32)
        prior = np.asarray(prior, np.float32)
        if prior.ndim == 2:
            prior = prior[..., None]
        out = []
        for i in range(len(ecg)):
            self.interp.set_tensor(self._ecg["index"], self._to_input(self._ecg, ecg[i:i + 1]))
            self.interp.set_tensor(self._prior["index"], self._to_input(self._prior, prior[i:i + 1]))
            # the fused LSTM ops keep their state in variable tensors: every window starts from zero state
            self.interp.reset_all_variables()
            self.interp.invoke()
            out.append(self._from_output(self.interp.get_tensor(self._out["index"]))[0])
        return np.asarray(out, dtype=np.float64).reshape(len(ecg), -1)
