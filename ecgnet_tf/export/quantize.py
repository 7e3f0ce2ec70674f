"""Convert a trained run to TFLite (int8 PTQ, QAT int8, float16, dynamic-range, float32) and check it.

    python -m export.quantize RUN_DIR --mode {int8,qat,float16,dynamic,float32} [--out model.tflite]
                              [--io {int8,float}] [--data-dir D] [--calibration N] [--max-eval N]
                              [--float-fallback none|auto|LAYER,...] [--max-bytes B]
                              [--fallback-weights {float32,float16,int8}] [--float-lstm]
                              [--float-for-speed LAYER,...] [--format {tflite,c-array}]

Parity (``parity``: top-1 agreement, probability differences, and ``parity.decision``: agreement of
the task-level decisions, per beat or per record; ``parity.anatomy``: which class pairs differ and
how close the float model's top two classes were there) and the task metrics of both models
(``metric_deltas``: macro and per-class F1, and ``metric_deltas.auc``: one-vs-rest ROC AUC at the
decision level, int8 minus float) use every window of the run's test partition unless ``--max-eval``;
``parity.decision`` also holds the largest probability difference of the task-level decisions.
``--float-fallback`` keeps chosen layers float32 (:mod:`ecgnet_tf.export.fallback`); ``--float-lstm``
keeps every BiLSTM float too, ``--float-for-speed`` named layers whose int8 kernels are slower than
float32 ones. The float layers' weights are stored as float32, as float16 (``--fallback-weights float16``,
:mod:`ecgnet_tf.export.fp16_weights`) or, those of LSTMs and fully-connected ops, as int8 for
LiteRT's hybrid kernels (``--fallback-weights int8``, :mod:`ecgnet_tf.export.hybrid_weights`). Every
int8 model is checked for int8 codes a kernel would read in
the wrong units and repaired (:mod:`ecgnet_tf.export.requant`, ``scale_repairs`` in the report).

``--format c-array`` additionally writes ``M.h`` / ``M.cc``: the model as a C array for TensorFlow
Lite for Microcontrollers, with the operators to register and a tensor-arena estimate
(:mod:`ecgnet_tf.export.c_array`).

``--mode qat`` first fine-tunes the model with fake quantisation on its convolutions, BatchNorms,
ReLUs and dense layers (:mod:`ecgnet_tf.export.qat`), distilled from the float model on
``--qat-windows`` training windows for ``--qat-epochs``, then converts those weights exactly like
``--mode int8`` (calibration, ``--float-fallback``, repairs); parity is measured against the
original float model, so QAT and PTQ are compared on the same footing.

The model is rebuilt at a fixed batch of 1 from ``run.json`` (weights copied from ``model.keras``)
so the BiLSTM lowers to TFLite's fused sequence-LSTM builtins; only builtin ops are allowed (never
SELECT_TF_OPS). Calibration (int8) and QAT fine-tuning use windows of the run's *training*
partition only, prepared with the run's ``ModelSpec.prepare`` (every named model input: "ecg"
z-scored with the run's statistics, "prior", and "rr" for beat models with RR features); parity
and task metrics use its held-out *test* partition, the same named feed going to the Keras model
and the TFLite runner. A JSON report ``M.json`` is written next to ``M.tflite``; its ``metadata`` object
is the run's :meth:`~ecgnet_tf.runs.ModelSpec.to_sidecar` (plus ``run_dir``), what the monitor
and the phone read.

The conversion itself lives in :mod:`ecgnet_tf.export.convert` and the runtime in
:mod:`ecgnet_tf.export.tflite`; this module is the command.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..settings import resolve_data_dir
from .convert import (
    IO_TYPES,
    MODES,
    QATUnsupportedError,
    convert_model,
    named_inputs,
    rebuild_batch1,
    representative_dataset,
    training_windows,
)
from .fallback import FallbackConfig, parse_layers
from .tflite import FlexOpsError, TFLiteRunner, assert_builtin_only, flex_ops, io_details, op_histogram

SIZE_TARGET_BYTES = {"edge": int(3.5e6)}  # paper claim: int8 edge model <= 3.5 MB
RUN_FILES = ("split.json", "normalization.json", "model.keras")


# ---------------------------------------------------------------------------------------------- run
def check_run(run_dir: Path) -> None:
    """Raise ``FileNotFoundError`` unless ``run_dir`` holds a finished run (run.json, split, stats, model)."""
    from ecgnet_tf.runs import RunConfig

    run_dir = Path(run_dir)
    RunConfig.load(run_dir)  # names run.json when it is missing
    for name in RUN_FILES:
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name}: missing; is {run_dir} a complete run folder?")


def run_records(run_dir: Path, data_dir: Path | None = None):
    """The run's task records (see :func:`ecgnet_tf.training.evaluation.run_records`)."""
    from ecgnet_tf.training.evaluation import run_records as records_of_run

    return records_of_run(run_dir, data_dir)


def eval_windows(spec, records, data_dir: Path, max_eval: int | None, seed: int = 0, cache_dir: Path | None = None):
    """The run's held-out TEST windows (a seeded subset of ``max_eval`` when given), not z-scored."""
    from ecgnet_tf.tasks import load_windows

    w = load_windows(records, Path(data_dir), list(records.split.partition("test")), spec.preprocess,
                     cache_dir=cache_dir, desc="test windows", morph="morph" in spec.inputs)
    if max_eval is not None and len(w) > max_eval:
        rng = np.random.default_rng(seed)
        w = w.take(np.sort(rng.choice(len(w), size=max_eval, replace=False)))
    return w


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


def disagreement_anatomy(tflite_probs: np.ndarray, float_probs: np.ndarray, classes: list[str],
                         class_merge: list[int] | tuple[int, ...] | None = None) -> dict:
    """Where the two models' top-1 classes differ: counts per (float class -> TFLite class) pair,
    the float model's top-1 margin (probability of its first class minus its second, 0..1) on the
    differing windows against all windows, and how many differences are between two classes that
    ``class_merge`` (the run's decision rule: class i decided as class ``class_merge[i]``) joins, i.e.
    differences the run's decisions cannot show."""
    fp = np.asarray(float_probs, np.float64)
    if len(classes) != fp.shape[1]:
        raise ValueError(f"{len(classes)} class names for {fp.shape[1]} outputs")
    a, b = np.asarray(tflite_probs, np.float64).argmax(1), fp.argmax(1)
    top2 = np.sort(fp, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    differ = a != b
    pairs: dict[str, int] = {}
    for f, t in zip(b[differ], a[differ]):
        key = f"{classes[f]}->{classes[t]}"
        pairs[key] = pairs.get(key, 0) + 1
    merged = 0
    if class_merge is not None:
        into = np.asarray(class_merge, int)
        merged = int(np.sum(into[a[differ]] == into[b[differ]]))
    q = (0.5, 0.9)

    def quantiles(m: np.ndarray) -> dict:
        return {f"q{int(100 * p)}": float(np.quantile(m, p)) for p in q} if len(m) else {}

    return {"n": int(len(a)), "n_differ": int(differ.sum()),
            "pairs": dict(sorted(pairs.items(), key=lambda kv: -kv[1])),
            "n_differ_between_merged_classes": merged,
            "float_margin": {"all": quantiles(margin), "differ": quantiles(margin[differ]),
                             "share_of_all_below_0.05": float(np.mean(margin < 0.05)),
                             "share_of_differ_below_0.05": float(np.mean(margin[differ] < 0.05)) if differ.any()
                             else None}}


def metric_deltas(int8_metrics: dict, float_metrics: dict) -> dict:
    """int8 minus float task metrics: macro F1 and per-class F1 (fractions 0..1; ``delta_points`` in
    percentage points), from two :func:`~ecgnet_tf.training.evaluation.task_metrics` results."""
    def row(a, b):
        return {"int8": a, "float": b, "delta": a - b, "delta_points": 100.0 * (a - b)}

    return {"level": int8_metrics.get("level"),
            "macro_f1": row(int8_metrics["macro"]["f1"], float_metrics["macro"]["f1"]),
            "accuracy": row(int8_metrics["accuracy"], float_metrics["accuracy"]),
            "per_class_f1": {c: row(int8_metrics["per_class"][c]["f1"], float_metrics["per_class"][c]["f1"])
                             for c in float_metrics["per_class"]}}


def decision_agreement(spec, windows, p_tflite: np.ndarray, p_float: np.ndarray) -> dict:
    """Agreement of the task-level decisions (``spec.decide``: per beat, or per record after aggregating
    its windows) made from the TFLite and the float probabilities; multi-label tasks compare every
    label at the decision threshold."""
    ids_a, a = spec.decide(windows.record, p_tflite, windows.ok)
    ids_b, b = spec.decide(windows.record, p_float, windows.ok)
    if list(ids_a) != list(ids_b):
        raise ValueError("the two models' decisions cover different records")
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if spec.multilabel:
        same = np.all((a >= 0.5) == (b >= 0.5), axis=1)  # the metrics' threshold
    else:
        same = a.argmax(1) == b.argmax(1)
    from ecgnet_tf.training.evaluation import decision_level

    diff = np.abs(a - b)
    return {"level": decision_level(spec), "n": int(len(same)), "agreement": float(same.mean()) if len(same) else float("nan"),
            "n_disagree": int((~same).sum()),
            "max_abs_prob_diff": float(diff.max()) if len(diff) else float("nan"),
            "mean_abs_prob_diff": float(diff.mean()) if len(diff) else float("nan")}


def auc_deltas(spec, windows, p_tflite: np.ndarray, p_float: np.ndarray) -> dict:
    """One-vs-rest ROC AUC of each class at the task's decision level (per beat, or per record after
    aggregating its windows) for the TFLite and the float probabilities, and their difference; a class
    without both positive and negative examples gets NaN (null in JSON). ``macro``: mean over the classes
    that have an AUC."""
    from ecgnet_tf.training.evaluation import decide_windows, decision_level
    from ecgnet_tf.training.metrics import auroc

    _, y, a = decide_windows(spec, windows, p_tflite)
    _, _, b = decide_windows(spec, windows, p_float)
    y, a, b = np.asarray(y), np.asarray(a, np.float64), np.asarray(b, np.float64)
    per_class = {}
    for k, name in enumerate(spec.classes):
        truth = y[:, k] > 0.5 if y.ndim == 2 else y == k
        ai, bi = auroc(truth, a[:, k]), auroc(truth, b[:, k])
        per_class[name] = {"int8": ai, "float": bi, "delta": ai - bi, "n_positive": int(truth.sum())}
    ok = [v for v in per_class.values() if np.isfinite(v["float"])]
    macro = ({"int8": float(np.mean([v["int8"] for v in ok])), "float": float(np.mean([v["float"] for v in ok]))}
             if ok else {"int8": float("nan"), "float": float("nan")})
    macro["delta"] = macro["int8"] - macro["float"]
    return {"level": decision_level(spec), "n": int(len(y)), "per_class": per_class, "macro": macro,
            "max_abs_delta": max((abs(v["delta"]) for v in ok), default=float("nan"))}


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
def quantize_run(run_dir: Path, mode: str = "int8", out: Path | None = None, io: str = "float",
                 data_dir: Path | None = None, calibration: int = 1000, max_eval: int | None = None,
                 seed: int = 0, cache_dir: Path | None = None, qat_windows: int = 4096, qat_epochs: int = 2,
                 qat_lr: float = 1e-5, threads: int = 1, model=None, keep_names: bool = False,
                 fallback: "FallbackConfig | None" = None, qat_float: tuple[str, ...] = ()) -> dict:
    """Convert ``run_dir``'s model, write ``out`` (.tflite) and ``out.with_suffix('.json')``; return the report.

    ``model`` overrides the float Keras model (default: ``run_dir/model.keras``). Internal tensor names
    are shortened (:func:`~ecgnet_tf.export.slim.shorten_tensor_names`: same results, smaller file)
    unless ``keep_names``. int8 models are repaired where a kernel would read int8 codes in the wrong
    units (:func:`~ecgnet_tf.export.requant.repair`). ``fallback`` (int8 only): layers kept float,
    chosen on the run's validation windows (:mod:`~ecgnet_tf.export.fallback`). Parity and task
    metrics use every window of the test partition unless ``max_eval``. ``qat_float`` (qat only): layers
    left out of the QAT simulation, besides ``fallback``'s speed and named layers.
    """
    from ecgnet_tf.runs import ModelSpec, RunConfig, load_model
    from ecgnet_tf.training.evaluation import task_metrics

    t_start = time.time()
    run_dir = Path(run_dir)
    check_run(run_dir)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    cfg = RunConfig.load(run_dir)
    spec = ModelSpec.from_run(run_dir)
    data_dir = resolve_data_dir(data_dir or cfg.data_dir)  # a published run names no data folder
    records = run_records(run_dir, data_dir)
    out = Path(out or run_dir / f"model_{mode}.tflite")
    fmodel = model if model is not None else load_model(run_dir / "model.keras")
    report: dict = {"mode": mode, "run_dir": str(run_dir), "task": spec.task, "config": cfg.config,
                    "preprocess_hash": cfg.preprocess_hash, "io_type": io,
                    "metadata": {**spec.to_sidecar(), "run_dir": str(run_dir)}}
    representative = None
    calib = None
    if mode in ("int8", "qat"):
        calib = training_windows(spec, records, data_dir, calibration, seed, cache_dir)
        representative = representative_dataset(calib)
        report["calibration"] = {"partition": "train", "n": int(len(calib)), "inputs": list(calib.names),
                                 "records": sorted(set(calib.records.tolist()))}
    export_model = rebuild_batch1(fmodel, cfg.model_config, spec.multilabel)
    if mode == "qat":  # fine-tuned to agree with fmodel under int8 rounding, then converted like int8
        from .qat import QATConfig, qat_fine_tune_distilled

        tw = training_windows(spec, records, data_dir, qat_windows, seed + 1, cache_dir)
        keep = tuple(qat_float)
        if fallback is not None:  # what the export keeps float is not simulated either
            keep += tuple(fallback.speed_layers) + tuple(fallback.layers)
        tuned, info = qat_fine_tune_distilled(fmodel, tw.inputs, spec.multilabel,
                                              QATConfig(epochs=qat_epochs, lr=qat_lr), seed=seed, float_layers=keep)
        export_model = rebuild_batch1(tuned, cfg.model_config, spec.multilabel)
        report["qat"] = {**info, "partition": "train", "records": sorted(set(tw.records.tolist()))}
    t0 = time.time()
    if mode in ("int8", "qat") and fallback is not None and fallback.active:
        blob, report["float_fallback"] = _int8_with_fallback(fmodel, export_model, spec, records, data_dir,
                                                              representative, io, fallback, seed, cache_dir)
    else:
        blob = convert_model(export_model, "int8" if mode == "qat" else mode, representative, io)
    if mode in ("int8", "qat"):
        from .requant import repair

        blob, repaired = repair(blob)  # the fallback's model is repaired already: nothing left to repair
        report["scale_repairs"] = [{k: r[k] for k in ("op", "input", "output", "input_scale", "input_zero_point",
                                                      "output_scale", "output_zero_point", "relative_value_error")}
                                   for r in repaired] + list(report.get("float_fallback", {}).get(
                                       "repaired_scale_mismatches", []))
    report["convert_seconds"] = round(time.time() - t0, 1)
    if not keep_names:
        from .slim import shorten_tensor_names

        report["size_bytes_with_names"] = len(blob)
        blob = shorten_tensor_names(blob)
    ops = op_histogram(blob)
    report.update({"size_bytes": len(blob), "size_mb": round(len(blob) / 1e6, 3), "ops": ops,
                   "flex_ops": sum(ops[n] for n in flex_ops(ops))})
    assert_builtin_only(ops)
    target = SIZE_TARGET_BYTES.get(cfg.config)
    if target and mode in ("int8", "qat"):
        report["size_target_bytes"] = target
        report["size_target_met"] = len(blob) <= target
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)

    runner = TFLiteRunner(blob, num_threads=threads)
    report["io"] = io_details(runner.interp)
    w = eval_windows(spec, records, data_dir, max_eval, seed, cache_dir)
    named = named_inputs(w)  # {"ecg", "prior"[, "rr"]}, raw; the same feed for Keras and TFLite
    p_float = spec.predict(fmodel, named)
    p_tfl = runner.predict_feed(spec.prepare(named))
    report["parity"] = {**parity(p_tfl, p_float), "partition": "test",
                        "subset": f"{len(w)} seeded windows" if max_eval is not None else "all windows"}
    report["parity"]["decision"] = decision_agreement(spec, w, p_tfl, p_float)
    if not spec.multilabel:
        report["parity"]["anatomy"] = disagreement_anatomy(p_tfl, p_float, list(spec.classes),
                                                           spec.decision.class_merge)
    report["task_metrics"] = task_metrics(spec, w, p_tfl)
    report["float_task_metrics"] = task_metrics(spec, w, p_float)
    report["metric_deltas"] = metric_deltas(report["task_metrics"], report["float_task_metrics"])
    report["metric_deltas"]["auc"] = auc_deltas(spec, w, p_tfl, p_float)
    report["seconds"] = round(time.time() - t_start, 1)
    report = _json_safe(report)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    return report


def _int8_with_fallback(fmodel, export_model, spec, records, data_dir: Path, representative, io: str,
                        fallback: "FallbackConfig", seed: int, cache_dir: Path | None) -> tuple[bytes, dict]:
    """int8 bytes with the float fallback ``fallback`` asks for, chosen on validation windows (training
    windows other than the calibration ones when the run has no validation records); (bytes, report)."""
    from .convert import calibrate_model, partition_windows, quantize_calibrated
    from .fallback import choose_fallback, module_layers

    partition = "val" if records.split.partition("val") else "train"
    sel, sel_w = partition_windows(spec, records, data_dir, partition, fallback.selection_windows,
                                   seed + 1, cache_dir)
    p_sel = spec.predict(fmodel, named_inputs(sel_w))
    calibrated = calibrate_model(export_model, representative)
    chosen, rep = choose_fallback(calibrated, sel.inputs, p_sel, fallback,
                                  lambda cal, nodes: quantize_calibrated(cal, nodes, io),
                                  modules=module_layers(export_model))
    rep["selection"]["partition"] = partition
    return chosen.model, rep


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.quantize", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="run folder, or a pretrained model's name (beats, rhythm, mi; needs the data "
                                   "for calibration and parity: --data-dir / $ECGNET_DATA)")
    p.add_argument("--mode", default="int8", choices=MODES)
    p.add_argument("--out", type=Path, default=None, help="output .tflite (default RUN_DIR/model_<mode>.tflite)")
    p.add_argument("--io", default="float", choices=IO_TYPES, help="input/output dtype of int8 / qat models")
    p.add_argument("--data-dir", type=Path, default=None, help="data folder (default: the run's)")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--calibration", type=int, default=1000, help="representative training windows (more windows give closer int8 parity)")
    p.add_argument("--max-eval", type=int, default=None, help="seeded subset of test windows for parity")
    p.add_argument("--qat-windows", type=int, default=4096,
                   help="training windows for the QAT fine-tune (distilled from the float model)")
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--qat-lr", type=float, default=1e-5, help="qat: learning rate of the distillation (Adam)")
    p.add_argument("--qat-float", default="", metavar="LAYER,...",
                   help="qat: Keras layers left out of the fake quantisation (besides --float-for-speed and named "
                        "--float-fallback layers), e.g. those the export will keep float")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads for the parity run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-names", action="store_true",
                   help="keep the converter's long internal tensor names (default: shortened; same results)")
    p.add_argument("--float-fallback", default="none", metavar="none|auto|LAYER,...",
                   help="int8: layers kept float32. auto: chosen greedily on validation windows until "
                        "--target-agreement (see ecgnet_tf.export.fallback); or Keras layer names")
    p.add_argument("--target-agreement", type=float, default=0.995,
                   help="--float-fallback auto: stop at this top-1 agreement with the float model (0..1)")
    p.add_argument("--max-bytes", type=int, default=None,
                   help="--float-fallback auto: size budget of the exported file (bytes)")
    p.add_argument("--max-float-layers", type=int, default=4, help="--float-fallback auto: at most this many")
    p.add_argument("--fallback-weights", default="float32", choices=("float32", "float16", "int8"),
                   help="--float-fallback: store the float layers' weights as float16 (DEQUANTIZE to float32 "
                        "at load), or the float LSTM / fully-connected weights as int8 (hybrid kernels: "
                        "float activations)")
    p.add_argument("--float-lstm", action="store_true",
                   help="int8: keep every BiLSTM float (on top of --float-fallback; weights per --fallback-weights)")
    p.add_argument("--float-for-speed", default="", metavar="LAYER,...",
                   help="int8: Keras layers kept float for latency, on top of --float-fallback (those whose int8 "
                        "kernels export.profile measured slower than float32, e.g. stem_conv,mhsa_norm)")
    p.add_argument("--selection", type=int, default=600,
                   help="--float-fallback: validation windows the fallback is measured on")
    p.add_argument("--format", default="tflite", choices=("tflite", "c-array"),
                   help="c-array: also write M.h / M.cc (C array for TensorFlow Lite for Microcontrollers)")
    a = p.parse_args(argv)
    from ecgnet_tf.data.errors import DataError
    from ecgnet_tf.pretrained.registry import is_pretrained_folder, resolve_model

    try:
        a.run_dir = resolve_model(a.run_dir)
        if is_pretrained_folder(a.run_dir):  # never write into the package (its data: quantize_run resolves them)
            a.out = a.out or Path(f"{a.run_dir.name}_{a.mode}.tflite")
        fallback = FallbackConfig.parse(a.float_fallback, target_agreement=a.target_agreement,
                                        max_bytes=a.max_bytes, max_layers=a.max_float_layers,
                                        selection_windows=a.selection, weights=a.fallback_weights,
                                        lstm=a.float_lstm, speed_layers=parse_layers(a.float_for_speed))
        if fallback.active and a.mode not in ("int8", "qat"):
            raise ValueError("--float-fallback / --float-lstm / --float-for-speed need --mode int8 or qat")
        r = quantize_run(a.run_dir, a.mode, a.out, a.io, a.data_dir, a.calibration, a.max_eval, a.seed,
                         a.cache_dir, a.qat_windows, a.qat_epochs, a.qat_lr, a.threads, keep_names=a.keep_names,
                         fallback=fallback, qat_float=parse_layers(a.qat_float))
    except QATUnsupportedError as exc:
        print(f"error: --mode qat is not supported for this model: {exc}", file=sys.stderr)
        return 3
    except (DataError, FileNotFoundError, ValueError, FlexOpsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = a.out or a.run_dir / f"model_{a.mode}.tflite"
    print(json.dumps({k: r[k] for k in ("mode", "size_bytes", "flex_ops", "parity")}, indent=2))
    print(f"wrote {out} and {Path(out).with_suffix('.json')}")
    if a.format == "c-array":
        from .c_array import write_c_array

        c = write_c_array(Path(out).read_bytes(), Path(out))
        report_path = Path(out).with_suffix(".json")
        rep = json.loads(report_path.read_text())
        rep["c_array"] = c
        report_path.write_text(json.dumps(rep, indent=2))
        print(f"wrote {c['header']} and {c['source']} ({len(c['ops'])} op types; tensor arena estimate "
              f"{c['arena_estimate']['upper_bytes']} bytes, an upper bound)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
