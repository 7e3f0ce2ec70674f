"""Convert a trained run to TFLite (int8 PTQ, QAT int8, float16, dynamic-range, float32) and check it.

    python -m export.quantize RUN_DIR --mode {int8,qat,float16,dynamic,float32} [--out model.tflite]
                              [--io {int8,float}] [--data-dir D] [--calibration N] [--max-eval N]

The model is rebuilt at a fixed batch of 1 from ``run.json`` (weights copied from ``model.keras``)
so the BiLSTM lowers to TFLite's fused sequence-LSTM builtins; only builtin ops are allowed (never
SELECT_TF_OPS). Calibration (int8) and QAT fine-tuning use windows of the run's *training*
partition only, z-scored with the run's statistics; parity and task metrics use its held-out
*test* partition. A JSON report ``M.json`` is written next to ``M.tflite``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

from .tflite_io import FlexOpsError, TFLiteClassifier, assert_builtin_only, flex_ops, io_details, op_histogram

MODES = ("int8", "qat", "float16", "dynamic", "float32")
IO_TYPES = ("float", "int8")
SIZE_TARGET_BYTES = {"edge": int(3.5e6)}  # paper claim: int8 edge model <= 3.5 MB


class QATUnsupportedError(RuntimeError):
    """Quantization-aware training cannot be applied to this architecture (message says why)."""


# ---------------------------------------------------------------------------------------------- run
@dataclass
class RunContext:
    """Everything about a trained run that export needs."""

    run_dir: Path
    cfg: object  # RunConfig
    task: object  # TaskSpec
    split: object  # Split
    zscore: object  # preprocess.ZScore
    pcfg: object  # preprocess.PreprocessConfig
    data_dir: Path
    cache_dir: Path | None = None
    _records: object = field(default=None, repr=False)

    @property
    def records(self):
        """TaskRecords of the run's task under ``data_dir`` (catalogued once)."""
        if self._records is None:
            from ecgnet_tf.training.tasks import TaskRecords, catalog

            cat = catalog(self.task, self.data_dir)
            self._records = TaskRecords(self.task, self.split, cat.label_of, cat.entry_of)
        return self._records

    def windows(self, partition: str, max_per_record: int | None = None, seed: int = 0):
        """Windows (not z-scored) of one partition of the run's split."""
        from ecgnet_tf.training.windows import load_windows

        ids = list(self.split.partition(partition))
        return load_windows(self.records, self.data_dir, ids, self.pcfg, cache_dir=self.cache_dir,
                            max_per_record=max_per_record, seed=seed, desc=f"{partition} windows")


def load_run(run_dir: Path, data_dir: Path | None = None, cache_dir: Path | None = None) -> RunContext:
    """Read run.json, split.json and normalization.json of ``run_dir``."""
    from ecgnet_tf import preprocess as pp
    from ecgnet_tf.evaluate import _tuples, load_zscore
    from ecgnet_tf.training.rundir import RunConfig, load_split
    from ecgnet_tf.training.tasks import get_task

    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir)
    for name in ("split.json", "normalization.json", "model.keras"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name}: missing; is {run_dir} a complete run folder?")
    return RunContext(run_dir=run_dir, cfg=cfg, task=get_task(cfg.task), split=load_split(run_dir),
                      zscore=load_zscore(run_dir), pcfg=pp.PreprocessConfig(**_tuples(cfg.preprocess)),
                      data_dir=Path(data_dir or cfg.data_dir), cache_dir=cache_dir)


def rebuild_batch1(model, ctx_or_cfg, n_classes: int | None = None, multilabel: bool | None = None):
    """The same architecture at a fixed batch of 1, with ``model``'s weights copied layer by layer."""
    from ecgnet_tf.model import ModelConfig, build_model

    if hasattr(ctx_or_cfg, "cfg"):
        mcfg = ModelConfig.from_dict(ctx_or_cfg.cfg.model_config)
        multilabel = ctx_or_cfg.task.multilabel if multilabel is None else multilabel
    else:
        mcfg = ctx_or_cfg
    t, c = int(model.inputs[0].shape[1]), int(model.inputs[0].shape[2])
    k = int(model.outputs[0].shape[-1]) if n_classes is None else n_classes
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


# ---------------------------------------------------------------------------------------------- data
@dataclass
class Calibration:
    """Z-scored representative windows and the records they came from."""

    ecg: np.ndarray  # (n, T, C) float32, z-scored
    prior: np.ndarray  # (n, T, 1) float32
    y: np.ndarray
    records: np.ndarray  # (n,) record id of each window


def training_windows(ctx: RunContext, n: int, seed: int = 0) -> Calibration:
    """``n`` seeded windows of the run's TRAINING partition only, z-scored with the run's stats."""
    n_train = max(1, len(ctx.split.train))
    per_record = max(1, math.ceil(2 * n / n_train))
    w = ctx.windows("train", max_per_record=per_record, seed=seed)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(w), size=min(n, len(w)), replace=False))
    w = w.take(idx)
    train = set(ctx.split.train)
    assert set(w.record.tolist()) <= train, "calibration windows must come from training records"
    return Calibration(ctx.zscore.transform(w.x).astype(np.float32), w.prior.astype(np.float32)[..., None],
                       w.y, w.record)


def representative_dataset(calib: Calibration):
    """A converter ``representative_dataset`` callable yielding {"ecg", "prior"} batches of one."""
    def gen():
        for i in range(len(calib.ecg)):
            yield {"ecg": calib.ecg[i:i + 1], "prior": calib.prior[i:i + 1]}

    return gen


# ---------------------------------------------------------------------------------------------- convert
def save_for_conversion(model, directory: Path) -> Path:
    """A SavedModel with one ``serving_default`` signature (ecg, prior) -> probs at the model's shapes.

    Only the variables are tracked (not the Keras layers), which skips Keras' per-layer SavedModel
    tracing; the LSTM keeps its fused-op implementation attributes, so it still lowers to builtins.
    """
    import tensorflow as tf

    ecg_shape = tuple(model.inputs[0].shape)
    prior_shape = tuple(model.inputs[1].shape)

    @tf.function(input_signature=[tf.TensorSpec(ecg_shape, tf.float32, name="ecg"),
                                  tf.TensorSpec(prior_shape, tf.float32, name="prior")])
    def serve(ecg, prior):
        return {"probs": model({"ecg": ecg, "prior": prior}, training=False)}

    module = tf.Module()
    module.variables_ = list(model.variables)
    module.serve = serve
    directory = Path(directory)
    tf.saved_model.save(module, str(directory), signatures={"serving_default": serve.get_concrete_function()})
    return directory


def convert(saved_model: Path, mode: str, representative=None, io: str = "float") -> bytes:
    """Convert a SavedModel (from :func:`save_for_conversion`) to TFLite bytes, builtin ops only.

    ``int8`` and ``qat`` need ``representative`` (a generator callable); ``io="int8"`` makes the
    model's inputs/outputs int8 too (int8 / qat only).
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
    """:func:`save_for_conversion` into a temporary folder, then :func:`convert`."""
    with tempfile.TemporaryDirectory(prefix="ecgnet-export-") as tmp:
        return convert(save_for_conversion(model, Path(tmp) / "saved"), mode, representative, io)


# ---------------------------------------------------------------------------------------------- QAT
def qat_supported_layers(model) -> tuple[list[str], list[dict]]:
    """(layers tfmot's default 8-bit registry can quantise, [{"name", "type"} of those left float])."""
    import tf_keras as keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_mod,
    )

    registry = registry_mod.Default8BitQuantizeRegistry()
    yes, no = [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if registry.supports(layer):
            yes.append(layer.name)
        else:
            no.append({"name": layer.name, "type": type(layer).__name__})
    return yes, no


def quantize_aware(model) -> tuple[object, dict]:
    """Wrap the layers tfmot supports with fake-quantisation (others stay float); returns (model, info).

    Raises :class:`QATUnsupportedError` when tfmot cannot apply QAT to the graph at all.
    """
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    from ecgnet_tf.model import custom_objects

    supported, left_float = qat_supported_layers(model)
    keep = set(supported)

    def annotate(layer):
        new = layer.__class__.from_config(layer.get_config())
        if layer.name in keep:
            return tfmot.quantization.keras.quantize_annotate_layer(new)
        return new

    try:
        clone = keras.models.clone_model(model, clone_function=annotate)
        clone.set_weights(model.get_weights())
        with tfmot.quantization.keras.quantize_scope(custom_objects()):
            qmodel = tfmot.quantization.keras.quantize_apply(clone)
    except Exception as exc:  # tfmot raises assorted errors for graphs it cannot transform
        raise QATUnsupportedError(
            f"tensorflow-model-optimization could not apply QAT to {model.name}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    return qmodel, {"annotated_layers": supported, "float_layers": left_float}


def qat_fine_tune(model, calib: Calibration, n_classes: int, multilabel: bool, epochs: int = 1,
                  batch_size: int = 16, lr: float = 1e-4, seed: int = 0) -> tuple[object, dict]:
    """QAT-wrap ``model`` (any batch size) and fine-tune it on training windows; returns (qmodel, info)."""
    import tf_keras as keras

    from ecgnet_tf.training.pipeline import one_hot

    keras.utils.set_random_seed(seed)
    qmodel, info = quantize_aware(model)
    loss = keras.losses.BinaryCrossentropy() if multilabel else keras.losses.CategoricalCrossentropy()
    qmodel.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
    t0 = time.time()
    hist = qmodel.fit({"ecg": calib.ecg, "prior": calib.prior}, one_hot(np.asarray(calib.y), n_classes),
                      epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    info.update({"epochs": epochs, "windows": int(len(calib.ecg)), "batch_size": batch_size, "lr": lr,
                 "loss": [float(v) for v in hist.history["loss"]], "seconds": round(time.time() - t0, 1)})
    return qmodel, info


# ---------------------------------------------------------------------------------------------- checks
def parity(tflite_probs: np.ndarray, float_probs: np.ndarray) -> dict:
    """Agreement of the TFLite model with the float Keras model on the same windows."""
    a = np.asarray(tflite_probs, np.float64)
    b = np.asarray(float_probs, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"probability shapes differ: {a.shape} vs {b.shape}")
    if len(a) == 0:
        raise ValueError("parity needs at least one window")
    diff = np.abs(a - b)
    return {"top1_agreement": float(np.mean(a.argmax(1) == b.argmax(1))), "max_abs_prob_diff": float(diff.max()),
            "mean_abs_prob_diff": float(diff.mean()), "n": int(len(a))}


def task_metrics(ctx: RunContext, windows, probs: np.ndarray) -> dict:
    """classification_report at the task's level (record-level tasks aggregate windows like evaluate)."""
    from ecgnet_tf.evaluate import aggregate_records
    from ecgnet_tf.training.metrics import classification_report

    task = ctx.task
    if task.record_level:
        noisy = task.classes.index("~") if "~" in task.classes else None
        _, y, p = aggregate_records(windows, probs, noisy)
        level = "record"
    else:
        y, p, level = windows.y, probs, "beat"
    return {"level": level, **classification_report(y, p, task.classes, multilabel=task.multilabel)}


def eval_windows(ctx: RunContext, max_eval: int | None, seed: int = 0):
    """The run's held-out TEST windows (a seeded subset of ``max_eval`` when given)."""
    w = ctx.windows("test")
    if max_eval is not None and len(w) > max_eval:
        rng = np.random.default_rng(seed)
        w = w.take(np.sort(rng.choice(len(w), size=max_eval, replace=False)))
    return w


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# ---------------------------------------------------------------------------------------------- pipeline
def model_metadata(ctx) -> dict:
    """Everything a deployment needs besides the .tflite: task, classes, preprocessing, z-score stats."""
    return {"task": ctx.task.name, "classes": list(ctx.task.classes), "multilabel": ctx.task.multilabel,
            "window_s": ctx.task.window_s, "segment_overlap": ctx.task.segment_overlap,
            "prior_kind": ctx.task.prior_kind, "preprocess": ctx.cfg.preprocess,
            "preprocess_hash": ctx.cfg.preprocess_hash,
            "normalization": json.loads((Path(ctx.run_dir) / "normalization.json").read_text()),
            "run_dir": str(ctx.run_dir)}


def quantize_run(run_dir: Path, mode: str = "int8", out: Path | None = None, io: str = "float",
                 data_dir: Path | None = None, calibration: int = 1000, max_eval: int | None = None,
                 seed: int = 0, cache_dir: Path | None = None, qat_windows: int = 256, qat_epochs: int = 1,
                 threads: int = 1, model=None) -> dict:
    """Convert ``run_dir``'s model, write ``out`` (.tflite) and ``out.with_suffix('.json')``; return the report.

    ``model`` overrides the float Keras model (default: ``run_dir/model.keras``).
    """
    from ecgnet_tf.evaluate import load_model, predict

    t_start = time.time()
    ctx = load_run(run_dir, data_dir, cache_dir)
    out = Path(out or Path(run_dir) / f"model_{mode}.tflite")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    fmodel = model if model is not None else load_model(ctx.run_dir / "model.keras")
    n_classes = int(fmodel.outputs[0].shape[-1])
    report: dict = {"mode": mode, "run_dir": str(ctx.run_dir), "task": ctx.task.name, "config": ctx.cfg.config,
                    "preprocess_hash": ctx.cfg.preprocess_hash, "io_type": io,
                    "metadata": model_metadata(ctx)}
    representative = None
    calib = None
    if mode in ("int8", "qat"):
        calib = training_windows(ctx, calibration, seed)
        representative = representative_dataset(calib)
        report["calibration"] = {"partition": "train", "n": int(len(calib.ecg)),
                                 "records": sorted(set(calib.records.tolist()))}
    export_model = rebuild_batch1(fmodel, ctx)
    if mode == "qat":
        tw = calib if qat_windows <= len(calib.ecg) else training_windows(ctx, qat_windows, seed + 1)
        qmodel, info = qat_fine_tune(fmodel, tw, n_classes, ctx.task.multilabel, epochs=qat_epochs, seed=seed)
        q1, _ = quantize_aware(export_model)
        q1.set_weights(qmodel.get_weights())
        export_model = q1
        info["partition"] = "train"
        report["qat"] = info
    t0 = time.time()
    blob = convert_model(export_model, mode, representative, io)
    report["convert_seconds"] = round(time.time() - t0, 1)
    ops = op_histogram(blob)
    report.update({"size_bytes": len(blob), "size_mb": round(len(blob) / 1e6, 3), "ops": ops,
                   "flex_ops": sum(ops[n] for n in flex_ops(ops))})
    assert_builtin_only(ops)
    target = SIZE_TARGET_BYTES.get(ctx.cfg.config)
    if target and mode in ("int8", "qat"):
        report["size_target_bytes"] = target
        report["size_target_met"] = len(blob) <= target
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)

    clf = TFLiteClassifier(blob, num_threads=threads)
    report["io"] = io_details(clf.interp)
    w = eval_windows(ctx, max_eval, seed)
    p_float = predict(fmodel, w, ctx.zscore)
    p_tfl = clf.predict(ctx.zscore.transform(w.x), w.prior)
    report["parity"] = {**parity(p_tfl, p_float), "partition": "test",
                        "subset": f"{len(w)} seeded windows" if max_eval is not None else "all windows"}
    report["task_metrics"] = task_metrics(ctx, w, p_tfl)
    report["float_task_metrics"] = task_metrics(ctx, w, p_float)
    report["seconds"] = round(time.time() - t_start, 1)
    report = _json_safe(report)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.quantize", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--mode", default="int8", choices=MODES)
    p.add_argument("--out", type=Path, default=None, help="output .tflite (default RUN_DIR/model_<mode>.tflite)")
    p.add_argument("--io", default="float", choices=IO_TYPES, help="input/output dtype of int8 / qat models")
    p.add_argument("--data-dir", type=Path, default=None, help="data folder (default: the run's)")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--calibration", type=int, default=1000, help="representative training windows (more windows give closer int8 parity)")
    p.add_argument("--max-eval", type=int, default=None, help="seeded subset of test windows for parity")
    p.add_argument("--qat-windows", type=int, default=256, help="training windows for the QAT fine-tune")
    p.add_argument("--qat-epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="interpreter threads for the parity run")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from ecgnet_tf.data.errors import DataError

    try:
        r = quantize_run(a.run_dir, a.mode, a.out, a.io, a.data_dir, a.calibration, a.max_eval, a.seed,
                         a.cache_dir, a.qat_windows, a.qat_epochs, a.threads)
    except QATUnsupportedError as exc:
        print(f"error: --mode qat is not supported for this model: {exc}", file=sys.stderr)
        return 3
    except (DataError, FileNotFoundError, ValueError, FlexOpsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = a.out or a.run_dir / f"model_{a.mode}.tflite"
    print(json.dumps({k: r[k] for k in ("mode", "size_bytes", "flex_ops", "parity")}, indent=2))
    print(f"wrote {out} and {Path(out).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
