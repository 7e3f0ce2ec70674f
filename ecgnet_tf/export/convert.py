"""The one Keras -> TFLite converter of the project (library; the command is :mod:`.quantize`).

Every conversion (``export.quantize``, the golden vectors, the latency reference models, the model
report and the attention-exporting model) goes through :func:`convert_model`: the model is saved
as a SavedModel with one ``serving_default`` signature (the model's named inputs: "ecg", "prior"
and, for beat models with RR features, "rr"; outputs "probs" and, for attention models, their masks) and converted with builtin ops only (never
SELECT_TF_OPS). Trained models are first rebuilt at a fixed batch of 1 (:func:`rebuild_batch1`)
so the BiLSTM lowers to TFLite's fused sequence-LSTM builtins.

Calibration (int8) uses windows of a run's *training* partition only (:func:`training_windows`),
prepared with the run's :meth:`~ecgnet_tf.runs.ModelSpec.prepare` (the ECG z-scored with the run's
statistics) into one array per named model input.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

if TYPE_CHECKING:
    from ecgnet_tf.runs import ModelSpec
    from ecgnet_tf.tasks import TaskRecords

MODES = ("int8", "qat", "float16", "dynamic", "float32")
IO_TYPES = ("float", "int8")
MODEL_INPUTS = ("ecg", "prior")  # the inputs every ecgnet model has; others (e.g. "rr") may follow


class QATUnsupportedError(RuntimeError):
    """Quantization-aware training cannot be applied to this architecture (message says why)."""


# ---------------------------------------------------------------------------------------------- model
def rebuild_batch1(model, model_config, multilabel: bool | None = None):
    """The same architecture at a fixed batch of 1, with ``model``'s weights copied layer by layer.

    ``model_config``: a :class:`~ecgnet_tf.model.ModelConfig` or its dict (``run.json``'s
    ``model_config``). ``multilabel``: sigmoid output; None reads it from the "probs" layer.
    Input length, leads and classes are ``model``'s. A model with a fused feature head or a rhythm
    gate (:mod:`ecgnet_tf.model.fusion`) is rebuilt with the same head and gate.
    """
    from ecgnet_tf.model.fusion import rebuild

    return rebuild(model, model_config, batch_size=1, multilabel=multilabel)


def _input_names(model) -> list[str]:
    """The model's input names in ``model.inputs`` order (e.g. "ecg", "prior"[, "rr"]).

    Any names are accepted as long as there is an "ecg" input and no name repeats.
    """
    names = list(getattr(model, "input_names", None) or [t.name.split(":")[0] for t in model.inputs])
    if "ecg" not in names:
        raise ValueError(f"ecgnet models take an 'ecg' input, this one takes {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"model input names must be unique, got {names}")
    return names


# ---------------------------------------------------------------------------------------------- data
def named_inputs(windows) -> dict[str, np.ndarray]:
    """The raw named model inputs of ``windows`` (:class:`~ecgnet_tf.tasks.Windows` or alike):
    ``windows.named()`` when it has one ({"ecg", "prior"[, "rr"]}), else {"ecg": x, "prior": prior}."""
    named = getattr(windows, "named", None)
    if callable(named):
        return dict(named())
    return {"ecg": windows.x, "prior": windows.prior}


class Calibration:
    """Prepared representative windows (one array per named model input) and the records they came from.

    ``inputs``: name -> (n, ...) float32 array, already prepared for the model
    (:meth:`~ecgnet_tf.runs.ModelSpec.prepare`: "ecg" (n, T, C) z-scored, "prior" (n, T, 1),
    "rr" (n, F) for models with RR features). ``y``: labels; ``records``: (n,) record id of each window.

    ``Calibration(inputs, y, records)``; the older ``Calibration(ecg, prior, y, records)`` still works.
    """

    def __init__(self, inputs, y, records, *legacy):
        if not isinstance(inputs, Mapping):  # Calibration(ecg, prior, y, records)
            if len(legacy) != 1:
                raise TypeError("Calibration(inputs: dict, y, records) or Calibration(ecg, prior, y, records)")
            inputs, y, records = {"ecg": inputs, "prior": y}, records, legacy[0]
        elif legacy:
            raise TypeError("Calibration(inputs: dict, y, records) takes 3 arguments")
        self.inputs: dict[str, np.ndarray] = {str(k): np.asarray(v) for k, v in inputs.items()}
        if "ecg" not in self.inputs:
            raise ValueError(f"calibration inputs need 'ecg', got {sorted(self.inputs)}")
        n = {k: len(v) for k, v in self.inputs.items()}
        if len(set(n.values())) != 1:
            raise ValueError(f"calibration inputs differ in length: {n}")
        self.y = np.asarray(y)
        self.records = np.asarray(records)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.inputs)

    @property
    def ecg(self) -> np.ndarray:
        """(n, T, C) float32, z-scored."""
        return self.inputs["ecg"]

    @property
    def prior(self) -> np.ndarray | None:
        """(n, T, 1) float32 (None for a model without a prior input)."""
        return self.inputs.get("prior")

    def __len__(self) -> int:
        return len(self.inputs["ecg"])

    def take(self, idx) -> "Calibration":
        idx = np.asarray(idx)
        return Calibration({k: v[idx] for k, v in self.inputs.items()}, self.y[idx], self.records[idx])

    def __repr__(self) -> str:
        shapes = {k: tuple(v.shape) for k, v in self.inputs.items()}
        return f"Calibration(n={len(self)}, inputs={shapes})"


def training_windows(spec: "ModelSpec", records: "TaskRecords", data_dir: Path, n: int, seed: int = 0,
                     cache_dir: Path | None = None) -> Calibration:
    """``n`` seeded windows of the TRAINING partition of ``records.split`` only, prepared with ``spec``
    (``spec.prepare(windows.named())``: every named model input, the ECG z-scored)."""
    return partition_windows(spec, records, data_dir, "train", n, seed, cache_dir)[0]


def partition_windows(spec: "ModelSpec", records: "TaskRecords", data_dir: Path, partition: str, n: int,
                      seed: int = 0, cache_dir: Path | None = None):
    """(prepared :class:`Calibration`, raw windows) of ``n`` seeded windows of one partition of
    ``records.split`` ("train": calibration; "val": choosing a float fallback), records spread evenly."""
    from ecgnet_tf.tasks import load_windows

    split = records.split
    ids = list(split.partition(partition))
    per_record = max(1, math.ceil(2 * n / max(1, len(ids))))
    w = load_windows(records, Path(data_dir), ids, spec.preprocess,
                     cache_dir=cache_dir, max_per_record=per_record, seed=seed, desc=f"{partition} windows",
                     morph="morph" in spec.inputs)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(w), size=min(n, len(w)), replace=False))
    w = w.take(idx)
    assert set(w.record.tolist()) <= set(ids), f"windows must come from {partition} records"
    feed = spec.prepare(named_inputs(w))
    return Calibration({k: np.asarray(v, np.float32) for k, v in feed.items()}, w.y, w.record), w


def representative_dataset(calib: Calibration, names=None):
    """A converter ``representative_dataset`` callable yielding one window (batch of one) per step as a
    dict of every named input of ``calib`` (or only ``names``)."""
    keys = list(calib.inputs if names is None else names)
    missing = [k for k in keys if k not in calib.inputs]
    if missing:
        raise ValueError(f"calibration has no input(s) {missing} (has {sorted(calib.inputs)})")

    def gen():
        for i in range(len(calib)):
            yield {k: np.asarray(calib.inputs[k][i:i + 1], np.float32) for k in keys}

    return gen


def _named_representative(representative, names: list[str]):
    """``representative`` yielding dicts keyed by the model's input names (lists are in the model's
    input order); names the model lacks are dropped, a missing model input is an error."""
    def gen():
        for item in representative():
            d = dict(item) if isinstance(item, Mapping) else dict(zip(names, item))
            missing = [n for n in names if n not in d]
            if missing:
                raise ValueError(f"representative dataset lacks model input(s) {missing} (has {sorted(d)})")
            yield {n: d[n] for n in names}

    return gen


# ---------------------------------------------------------------------------------------------- convert
def save_for_conversion(model, directory: Path) -> Path:
    """A SavedModel with one ``serving_default`` signature (the model's named inputs) -> outputs at the
    model's shapes.

    A one-output model's output is named "probs"; a multi-output model's outputs keep their Keras
    names (``model.output_names``, e.g. "probs", "guided_mask", "spatial_attention_map"). Only
    the variables are tracked (not the Keras layers), which skips Keras' per-layer SavedModel
    tracing; the LSTM keeps its fused-op implementation attributes, so it still lowers to builtins.
    """
    import tensorflow as tf

    names = _input_names(model)
    shapes = {n: tuple(t.shape) for n, t in zip(names, model.inputs)}
    multi = len(model.outputs) > 1
    out_names = list(model.output_names) if multi else ["probs"]

    dtypes = {n: (t.dtype if t.dtype.is_floating else tf.float32) for n, t in zip(names, model.inputs)}

    @tf.function(input_signature=[tf.TensorSpec(shapes[n], dtypes[n], name=n) for n in names])
    def serve(*args):
        out = model(dict(zip(names, args)), training=False)
        return dict(zip(out_names, out)) if multi else {"probs": out}

    module = tf.Module()
    module.variables_ = list(model.variables)
    module.serve = serve
    directory = Path(directory)
    tf.saved_model.save(module, str(directory), signatures={"serving_default": serve.get_concrete_function()})
    return directory


def convert(saved_model: Path, mode: str, representative=None, io: str = "float") -> bytes:
    """Convert a SavedModel (from :func:`save_for_conversion`) to TFLite bytes, builtin ops only.

    ``int8`` and ``qat`` need ``representative`` (a generator callable yielding dicts of every named
    input, e.g. {"ecg", "prior"[, "rr"]}); ``io="int8"`` makes the model's inputs/outputs int8 too (int8 / qat only).
    """
    import tensorflow as tf

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if io not in IO_TYPES:
        raise ValueError(f"io must be one of {IO_TYPES}, got {io!r}")
    if io == "int8" and mode not in ("int8", "qat"):
        raise ValueError("--io int8 needs a full-integer mode (int8 or qat)")
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode in ("int8", "qat"):
        if representative is None:
            raise ValueError(f"mode {mode} needs a representative dataset")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io == "int8":
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    elif mode == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    return conv.convert()


def convert_model(model, mode: str, representative=None, io: str = "float") -> bytes:
    """TFLite bytes of a Keras ecgnet model (named inputs "ecg", "prior"[, "rr", ...]), builtin ops only.

    :func:`save_for_conversion` into a temporary folder, then :func:`convert`. ``representative``
    (int8 / qat) may yield dicts keyed by input name (extra keys are dropped) or lists in the
    model's input order.
    """
    if representative is not None:
        representative = _named_representative(representative, _input_names(model))
    with tempfile.TemporaryDirectory(prefix="ecgnet-export-") as tmp:
        return convert(save_for_conversion(model, Path(tmp) / "saved"), mode, representative, io)


def calibrate_model(model, representative) -> bytes:
    """The float TFLite model of a Keras ecgnet model with calibration statistics (min / max of every
    activation over ``representative``), to be quantised by :func:`quantize_calibrated` (once per
    float-fallback candidate: calibration is the slow part)."""
    import tensorflow as tf

    representative = _named_representative(representative, _input_names(model))
    with tempfile.TemporaryDirectory(prefix="ecgnet-export-") as tmp:
        conv = tf.lite.TFLiteConverter.from_saved_model(str(save_for_conversion(model, Path(tmp) / "saved")))
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv._experimental_calibrate_only = True  # noqa: SLF001 - the converter's calibrate-only switch
        return conv.convert()


def quantize_calibrated(calibrated: bytes, float_nodes=(), io: str = "float") -> bytes:
    """int8 TFLite bytes of a calibrated model (:func:`calibrate_model`), the ops whose output tensors
    are named in ``float_nodes`` kept float32 (the converter's ``denylisted_nodes``), builtin ops only.
    ``io="int8"``: int8 model inputs and outputs."""
    import tensorflow as tf
    from tensorflow.lite.python import convert as tfl_convert

    if io not in IO_TYPES:
        raise ValueError(f"io must be one of {IO_TYPES}, got {io!r}")
    dtype = tf.int8 if io == "int8" else tf.float32
    return tfl_convert.mlir_quantize(bytes(calibrated), input_data_type=dtype, output_data_type=dtype,
                                     denylisted_nodes=list(float_nodes) or None)
