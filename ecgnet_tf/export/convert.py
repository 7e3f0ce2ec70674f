"""The one Keras -> TFLite converter of the project (library; the command is :mod:`.quantize`).

Every conversion (``export.quantize``, the golden vectors, the latency reference models, the model
report and the attention-exporting model) goes through :func:`convert_model`: the model is saved
as a SavedModel with one ``serving_default`` signature (inputs "ecg", "prior"; outputs "probs"
and, for attention models, their masks) and converted with builtin ops only (never
SELECT_TF_OPS). Trained models are first rebuilt at a fixed batch of 1 (:func:`rebuild_batch1`)
so the BiLSTM lowers to TFLite's fused sequence-LSTM builtins.

Calibration (int8) uses windows of a run's *training* partition only (:func:`training_windows`),
z-scored with the run's statistics.
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ecgnet_tf.runs import ModelSpec
    from ecgnet_tf.tasks import TaskRecords

MODES = ("int8", "qat", "float16", "dynamic", "float32")
IO_TYPES = ("float", "int8")
MODEL_INPUTS = ("ecg", "prior")


# ---------------------------------------------------------------------------------------------- model
def rebuild_batch1(model, model_config, multilabel: bool | None = None):
    """The same architecture at a fixed batch of 1, with ``model``'s weights copied layer by layer.

    ``model_config``: a :class:`~ecgnet_tf.model.ModelConfig` or its dict (``run.json``'s
    ``model_config``). ``multilabel``: sigmoid output; None reads it from the "probs" layer.
    Input length, leads and classes are ``model``'s.
    """
    from ecgnet_tf.model import ModelConfig, build_model

    mcfg = model_config if isinstance(model_config, ModelConfig) else ModelConfig.from_dict(model_config)
    t, c = int(model.inputs[0].shape[1]), int(model.inputs[0].shape[2])
    k = int(model.outputs[0].shape[-1])
    if multilabel is None:
        multilabel = "sigmoid" in str(model.get_layer("probs").activation)
    b1 = build_model(mcfg, t, c, k, multilabel=bool(multilabel), batch_size=1)
    src = {layer.name: layer for layer in model.layers}
    for layer in b1.layers:
        if not layer.weights:
            continue
        other = src.get(layer.name)
        if other is None:
            raise ValueError(f"layer {layer.name!r} of the rebuilt model is not in the trained model")
        layer.set_weights(other.get_weights())
    return b1


def _input_names(model) -> list[str]:
    """The model's input names in ``model.inputs`` order ("ecg", "prior" for ecgnet models)."""
    names = list(getattr(model, "input_names", None) or [t.name.split(":")[0] for t in model.inputs])
    if sorted(names) != sorted(MODEL_INPUTS):
        raise ValueError(f"ecgnet models take inputs {MODEL_INPUTS}, this one takes {names}")
    return names


# ---------------------------------------------------------------------------------------------- data
@dataclass
class Calibration:
    """Z-scored representative windows and the records they came from."""

    ecg: np.ndarray  # (n, T, C) float32, z-scored
    prior: np.ndarray  # (n, T, 1) float32
    y: np.ndarray
    records: np.ndarray  # (n,) record id of each window


def training_windows(spec: "ModelSpec", records: "TaskRecords", data_dir: Path, n: int, seed: int = 0,
                     cache_dir: Path | None = None) -> Calibration:
    """``n`` seeded windows of the TRAINING partition of ``records.split`` only, z-scored with ``spec``."""
    from ecgnet_tf.tasks import load_windows

    split = records.split
    n_train = max(1, len(split.train))
    per_record = max(1, math.ceil(2 * n / n_train))
    w = load_windows(records, Path(data_dir), list(split.partition("train")), spec.preprocess,
                     cache_dir=cache_dir, max_per_record=per_record, seed=seed, desc="train windows")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(w), size=min(n, len(w)), replace=False))
    w = w.take(idx)
    assert set(w.record.tolist()) <= set(split.train), "calibration windows must come from training records"
    feed = spec.prepare({"ecg": w.x, "prior": w.prior})
    return Calibration(feed["ecg"], feed["prior"], w.y, w.record)


def representative_dataset(calib: Calibration):
    """A converter ``representative_dataset`` callable yielding {"ecg", "prior"} batches of one."""
    def gen():
        for i in range(len(calib.ecg)):
            yield {"ecg": calib.ecg[i:i + 1], "prior": calib.prior[i:i + 1]}

    return gen


def _named_representative(representative, names: list[str]):
    """``representative`` yielding dicts keyed by input name (lists are in the model's input order)."""
    def gen():
        for item in representative():
            yield dict(item) if isinstance(item, dict) else dict(zip(names, item))

    return gen


# ---------------------------------------------------------------------------------------------- convert
def save_for_conversion(model, directory: Path) -> Path:
    """A SavedModel with one ``serving_default`` signature (ecg, prior) -> outputs at the model's shapes.

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

    @tf.function(input_signature=[tf.TensorSpec(shapes["ecg"], tf.float32, name="ecg"),
                                  tf.TensorSpec(shapes["prior"], tf.float32, name="prior")])
    def serve(ecg, prior):
        out = model({"ecg": ecg, "prior": prior}, training=False)
        return dict(zip(out_names, out)) if multi else {"probs": out}

    module = tf.Module()
    module.variables_ = list(model.variables)
    module.serve = serve
    directory = Path(directory)
    tf.saved_model.save(module, str(directory), signatures={"serving_default": serve.get_concrete_function()})
    return directory


def convert(saved_model: Path, mode: str, representative=None, io: str = "float") -> bytes:
    """Convert a SavedModel (from :func:`save_for_conversion`) to TFLite bytes, builtin ops only.

    ``int8`` and ``qat`` need ``representative`` (a generator callable yielding {"ecg", "prior"}
    dicts); ``io="int8"`` makes the model's inputs/outputs int8 too (int8 / qat only).
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
    """TFLite bytes of a Keras ecgnet model (inputs "ecg", "prior"), builtin ops only.

    :func:`save_for_conversion` into a temporary folder, then :func:`convert`. ``representative``
    (int8 / qat) may yield {"ecg", "prior"} dicts or lists in the model's input order.
    """
    if representative is not None:
        representative = _named_representative(representative, _input_names(model))
    with tempfile.TemporaryDirectory(prefix="ecgnet-export-") as tmp:
        return convert(save_for_conversion(model, Path(tmp) / "saved"), mode, representative, io)
