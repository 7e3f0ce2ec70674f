"""The one TFLite runtime of the project: read and check a .tflite flatbuffer (op histogram, Flex /
custom-op check) and run ecgnet models window by window with :class:`TFLiteRunner`.

Only ``ai_edge_litert`` and numpy are imported here (never TensorFlow), so the benchmark can
measure a process that never loaded TensorFlow and the monitor can run without it.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..runs.model_io import ModelFileError  # a model file is missing, unreadable or damaged

FLEX_PREFIX = "Flex"


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


def pack_model(model, size_hint: int = 0, check: bool = True) -> bytes:
    """Serialise an object-API TFLite ``ModelT`` (as edited by slim / requant / the weight rewrites) to
    .tflite bytes; ``check`` parses the result (:func:`check_flatbuffer`)."""
    import flatbuffers

    builder = flatbuffers.Builder(max(size_hint, 1024))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out = bytes(builder.Output())
    if check:
        check_flatbuffer(out)
    return out


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
    """A LiteRT interpreter, tensors allocated.

    ``xnnpack`` (default) uses the default delegates (XNNPACK); ``False`` the builtin reference
    kernels only (exact, and safe in a process that already ran the TF converter: creating an
    XNNPACK interpreter for an int8 model there has aborted with "double free" in ai-edge-litert 2.3).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=bytes(model_content), num_threads=num_threads,
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


def quantize_input(d: dict, x: np.ndarray) -> np.ndarray:
    """``x`` in the dtype of input tensor ``d``: floats are quantised with its (scale, zero point) when
    the tensor is integer (round(x / scale) + zero point, clipped); arrays already of its dtype pass."""
    dtype = np.dtype(d["dtype"])
    x = np.asarray(x)
    if x.dtype == dtype:
        return x
    if dtype.kind in "iu":
        scale, zero = _qparams(d)
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)
    return x.astype(dtype)


def dequantize_output(d: dict, y: np.ndarray) -> np.ndarray:
    """Output tensor values as float64 (integer outputs de-quantised with the tensor's scale, zero point)."""
    if np.dtype(d["dtype"]).kind in "iu":
        scale, zero = _qparams(d)
        return (np.asarray(y).astype(np.float64) - zero) * scale
    return np.asarray(y).astype(np.float64)


MODEL_INPUTS: tuple[str, ...] = ("ecg", "prior")  # every ecgnet model has these; others (e.g. "rr") may follow
KNOWN_INPUTS: tuple[str, ...] = ("ecg", "prior", "rr", "morph")


def _signature(interp) -> dict | None:
    """The model's only signature ({"inputs": name -> index, "outputs": name -> index}), else None."""
    try:
        sigs = interp._get_full_signature_list() or {}
    except AttributeError:
        return None
    return next(iter(sigs.values())) if len(sigs) == 1 else None


def _clean_name(name: str) -> str:
    """A tensor name without the converter's decorations ("serving_default_rr:0" -> "rr")."""
    name = name.split(":")[0]
    for prefix in ("serving_default_",):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def _known_in(name: str) -> str | None:
    """The known input name ("ecg", "prior", "rr") a decorated tensor name refers to, if any."""
    low = name.lower()
    for known in KNOWN_INPUTS:
        parts = low.replace(":", "_").replace("/", "_").split("_")
        if known in parts or (known != "rr" and known in low):
            return known
    return None


def _named_inputs(interp) -> dict[str, dict]:
    """Input name -> input tensor details, for any input names ("ecg", "prior", "rr", ...).

    The Keras input names survive in the signature, not always in the tensor names, so the
    signature keys are read first, then the tensor names (without the converter's
    "serving_default_" / ":0"); decorated names containing a known input name ("ecg", "prior",
    "rr") map to it. A model whose inputs carry no "ecg" name falls back to the old rules: an
    unnamed pair is told apart by its last axis (the prior is (1, T, 1)), else taken in order (ECG
    first); a single input is the ECG.
    """
    ins = interp.get_input_details()
    by_index = {d["index"]: d for d in ins}
    raw: dict[int, str] = {}
    sig = _signature(interp)
    if sig is not None:
        raw = {idx: key for key, idx in sig.get("inputs", {}).items() if idx in by_index}
    for d in ins:
        raw.setdefault(d["index"], _clean_name(d["name"]))
    named: dict[str, dict] = {}
    for d in ins:  # exact names first
        key = raw[d["index"]]
        if key in KNOWN_INPUTS and key not in named:
            named[key] = d
    for d in ins:  # then decorated known names (e.g. "ecg_1", "serving_default_prior:0")
        if any(d is v for v in named.values()):
            continue
        key = _known_in(raw[d["index"]]) or _known_in(d["name"])
        if key is not None and key not in named:
            named[key] = d
    rest = [d for d in ins if not any(d is v for v in named.values())]
    if "ecg" not in named:
        if len(ins) == 2 and len(rest) == 2:
            lasts = [int(d["shape"][-1]) for d in rest]
            if lasts[0] != lasts[1]:
                rest = sorted(rest, key=lambda d: -int(d["shape"][-1]))  # the ECG has more leads
            named["ecg"], named["prior"] = rest
            rest = []
        elif len(rest) == 1 and len(ins) == 1:
            named["ecg"] = rest.pop()
        else:
            raise ValueError(f"expected an 'ecg' input, got {[raw[d['index']] for d in ins]}")
    for d in rest:  # any other named input keeps its (signature or tensor) name
        key = raw[d["index"]]
        if key in named:
            raise ValueError(f"two model inputs are both named {key!r}: {[raw[x['index']] for x in ins]}")
        named[key] = d
    order = [d["index"] for d in ins]
    return dict(sorted(named.items(), key=lambda kv: order.index(kv[1]["index"])))


def _named_outputs(interp) -> dict[str, dict]:
    """Output name -> tensor details, the class probabilities ("probs") first.

    Names come from the signature (the Keras output names); without one, from the tensor names,
    the probabilities being the output named like "probs", else the first 2-D one, else the first.
    """
    outs = interp.get_output_details()
    by_index = {d["index"]: d for d in outs}
    sig = _signature(interp)
    named: dict[str, dict] = {}
    if sig is not None:
        named = {key: by_index[idx] for key, idx in sig.get("outputs", {}).items() if idx in by_index}
    if len(named) != len(outs):
        named = {d["name"]: d for d in outs}
    probs = next((k for k in named if "probs" in k.lower()), None)
    if probs is None:
        probs = next((k for k, d in named.items() if len(d["shape"]) == 2), next(iter(named)))
    return {"probs": named[probs], **{k: d for k, d in named.items() if k != probs}}


class TFLiteRunner:
    """Runs an ecgnet .tflite model one window at a time (batch 1), as the phone does.

    Inputs are fed by name (any names: "ecg" (1, T, C) z-scored, "prior" (1, T, 1), "rr" (1, F),
    ...); float values are quantised for integer inputs and integer outputs are de-quantised, so
    callers always see float64. Before every window the interpreter's variable tensors are reset
    (``reset_all_variables``): the fused LSTM ops keep their state there, and a window would
    otherwise start from the previous window's state (the phone calls ``resetVariableTensors()``).

    ``model``: .tflite bytes or a path. ``inputs`` maps input names to tensor details (in the
    model's input order); ``outputs`` maps output names to tensor details, "probs" (the class
    probabilities) first; attention models add their masks.
    """

    def __init__(self, model: bytes | str | Path, num_threads: int = 1, xnnpack: bool = True):
        content = bytes(model) if isinstance(model, (bytes, bytearray)) else read_tflite(model)
        self.interp = make_interpreter(content, num_threads, xnnpack)
        self.inputs = _named_inputs(self.interp)
        self.outputs = _named_outputs(self.interp)

    # ------------------------------------------------------------------ description
    def op_names(self) -> set[str]:
        """Names of the interpreter's nodes (builtin op names; "DELEGATE" for delegated partitions)."""
        return {op["op_name"] for op in self.interp._get_ops_details()}

    @property
    def input_names(self) -> tuple[str, ...]:
        """The model's input names, in its input order (e.g. ("ecg", "prior", "rr"))."""
        return tuple(self.inputs)

    def input_shape(self, name: str) -> tuple[int, ...]:
        """Shape of input ``name`` ("ecg", "prior", "rr", ...; with its batch axis of 1)."""
        return tuple(int(v) for v in self.inputs[name]["shape"])

    @property
    def n_outputs(self) -> int:
        """Number of classes (last axis of the "probs" output)."""
        return int(self.outputs["probs"]["shape"][-1])

    def _fit(self, name: str, v: np.ndarray) -> np.ndarray:
        """``v`` (with its batch axis) reshaped to input ``name``'s shape when only unit axes differ
        (a prior (1, T) for a (1, T, 1) input)."""
        shape = self.input_shape(name)
        v = np.asarray(v)
        if v.shape != shape and v.size == int(np.prod(shape)):
            v = v.reshape(shape)
        return v

    # ------------------------------------------------------------------ one window
    def set_inputs(self, feed: dict[str, np.ndarray]) -> None:
        """Set the named inputs of one window (each with its batch axis of 1). Every model input must
        be fed; names the model lacks are ignored (e.g. "rr" for a model without RR features)."""
        for name, d in self.inputs.items():
            if name not in feed:
                raise ValueError(f"model input {name!r} not fed (got {sorted(feed)})")
            self.interp.set_tensor(d["index"], quantize_input(d, self._fit(name, feed[name])))

    def invoke(self) -> None:
        """Reset the variable tensors (LSTM state) and run the model once."""
        self.interp.reset_all_variables()
        self.interp.invoke()

    def get_outputs(self, names=None) -> dict[str, np.ndarray]:
        """Named outputs of the last run as float64, batch axis kept (all outputs when ``names`` is None)."""
        names = list(self.outputs) if names is None else list(names)
        return {n: dequantize_output(self.outputs[n], self.interp.get_tensor(self.outputs[n]["index"]))
                for n in names}

    def run_window(self, feed: dict[str, np.ndarray], names=None) -> dict[str, np.ndarray]:
        """Outputs (no batch axis) of one window: ``feed`` maps input names to arrays without the batch
        axis ("ecg" (T, C), "prior" (T,) or (T, 1), "rr" (F,))."""
        self.set_inputs({name: np.asarray(v)[None] for name, v in feed.items()})
        self.invoke()
        return {k: v[0] for k, v in self.get_outputs(names).items()}

    # ------------------------------------------------------------------ many windows
    def run_feed(self, feed: dict[str, np.ndarray], names=None) -> dict[str, np.ndarray]:
        """Named outputs (n, ...) float64 for a dict of named, prepared inputs (each (n, ...): "ecg"
        (n, T, C) z-scored, "prior" (n, T) or (n, T, 1), "rr" (n, F), ...), one window at a time
        (every window from zero LSTM state). Names the model lacks are ignored."""
        missing = [n for n in self.inputs if n not in feed]
        if missing:
            raise ValueError(f"model input(s) {missing} not fed (got {sorted(feed)})")
        arrays = {n: np.asarray(feed[n]) for n in self.inputs}
        lengths = {n: len(v) for n, v in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"named inputs differ in window count: {lengths}")
        n_win = next(iter(lengths.values()))
        names = list(self.outputs) if names is None else list(names)
        out: dict[str, list] = {n: [] for n in names}
        for i in range(n_win):
            self.set_inputs({n: v[i:i + 1] for n, v in arrays.items()})
            self.invoke()
            for n, v in self.get_outputs(names).items():
                out[n].append(v[0])
        return {n: np.asarray(v, np.float64) if v else
                np.zeros((0, *[int(s) for s in self.outputs[n]["shape"][1:]])) for n, v in out.items()}

    def predict_feed(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities (n, K) float64 for a dict of named, prepared inputs (see :meth:`run_feed`),
        e.g. ``spec.prepare(windows.named())``."""
        p = self.run_feed(feed, ["probs"])["probs"]
        return p.reshape(len(p), -1) if len(p) else np.zeros((0, self.n_outputs))

    def run(self, ecg: np.ndarray, prior: np.ndarray, names=None, **extra) -> dict[str, np.ndarray]:
        """Named outputs (n, ...) float64 for z-scored windows ``ecg`` (n, T, C) and priors (n, T) or
        (n, T, 1) (plus any further named inputs as keywords, e.g. ``rr=``), one window at a time."""
        return self.run_feed({"ecg": ecg, "prior": prior, **extra}, names)

    def predict(self, ecg: np.ndarray, prior: np.ndarray, **extra) -> np.ndarray:
        """Class probabilities (n, K) float64 for z-scored windows ``ecg`` (n, T, C) and priors (n, T) or
        (n, T, 1) (further named inputs as keywords, e.g. ``rr=`` (n, F)); see :meth:`predict_feed`."""
        return self.predict_feed({"ecg": ecg, "prior": prior, **extra})
