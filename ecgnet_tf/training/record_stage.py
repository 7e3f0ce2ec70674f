"""Fit and apply a run's record model (:mod:`.record_model`) from the run folder and its data.

:func:`fit_run_record_model` fits the trees on the run's training records and the fusion on its
validation records, then scores the run's test records once: ``RUN/record_model/metrics.json``
(the same keys as the run's ``metrics.json``: ``challenge_f1``, ``per_class.<c>.f1``, ``n_records``)
and ``RUN/record_model/predictions.npz`` (record ids, labels, probabilities).
:func:`record_model_probs` applies a saved record model to any labelled records (``evaluate``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import atomic
from ..runs import ModelSpec, RunConfig, load_run_model
from ..settings import resolve_data_dir
from ..tasks import TaskRecords, get_task
from ..tasks.record_table import record_feature_table, window_rr_rows
from .evaluation import PREDICTIONS, WindowLabels, run_records, window_predictions
from .metrics import challenge_score_cinc2017, classification_report
from .record_model import RECORD_MODEL_DIR, RecordInputs, RecordModel, RecordModelConfig, fit_record_model
from .report import write_reports

RECORD_PREDICTIONS = "predictions.npz"


def _context(run_dir: Path, data_dir: Path | None = None):
    cfg = RunConfig.load(run_dir)
    task = get_task(cfg.task)
    if task.name != "cinc2017":
        raise ValueError(f"{run_dir}: record models are for the cinc2017 task, not {task.name!r}")
    data_dir = resolve_data_dir(data_dir or cfg.data_dir)
    trecs = run_records(run_dir, data_dir)
    return cfg, task, data_dir, trecs.split, trecs


def record_inputs(trecs: TaskRecords, data_dir: Path, ids: list[str], spec: ModelSpec, window_record=None,
                  window_probs=None, cache_dir: Path | None = None, desc: str = "records",
                  max_per_record: int | None = None, seed: int = 0) -> RecordInputs:
    """Record-model inputs of ``ids``: whole-record features, window rhythm rows (window cache, the
    subset an evaluation with ``max_per_record`` / ``seed`` used) and, when given, the network's
    window probabilities (in the order of the window cache)."""
    feats = record_feature_table(trecs, data_dir, ids, spec.preprocess, cache_dir, desc=f"{desc}: record features")
    rec, rr = window_rr_rows(trecs, data_dir, ids, spec.preprocess, cache_dir, desc=f"{desc}: window rows",
                             max_per_record=max_per_record, seed=seed)
    probs = None
    if window_probs is not None:
        if len(window_probs) != len(rec) or not np.array_equal(np.asarray(window_record).astype(str), rec):
            raise ValueError("window predictions are not in the order of the window cache; re-run the evaluation")
        probs = window_probs
    return RecordInputs.build(ids, feats, rec, rr, probs)


def _labels(trecs: TaskRecords, task, ids: list[str]) -> np.ndarray:
    return np.array([task.classes.index(trecs.label_of[r]) for r in ids], dtype=np.int64)


def fit_run_record_model(run_dir: Path, cache_dir: Path | None = None, config: RecordModelConfig | None = None,
                         log=print, data_dir: Path | None = None, folder: str = RECORD_MODEL_DIR) -> dict:
    """Fit ``run_dir``'s record model (training + validation records), save it and score the test
    records; returns the test metrics (also written to ``RUN/<folder>/metrics.json``; ``folder``
    other than ``record_model`` holds an experiment, never the run's decision). ``data_dir``
    defaults to the run's data folder."""
    run_dir = Path(run_dir)
    cfg, task, data_dir, split, trecs = _context(run_dir, data_dir)
    spec = ModelSpec.from_run(run_dir)
    config = config or RecordModelConfig(seed=cfg.seed)
    model = None
    needs_model = not (run_dir / PREDICTIONS).is_file() or not (run_dir / "evaluations" / "val" / PREDICTIONS).is_file()
    if needs_model:
        model = load_run_model(run_dir)
    val_rec, val_p = window_predictions(run_dir, "val", cache_dir, model, log)
    test_rec, test_p = window_predictions(run_dir, "test", cache_dir, model, log)
    train_ids, val_ids, test_ids = (list(split.partition(p)) for p in ("train", "val", "test"))
    train = record_inputs(trecs, data_dir, train_ids, spec, cache_dir=cache_dir, desc="train")
    sub = {"max_per_record": cfg.eval_max_per_record, "seed": cfg.seed}
    val = record_inputs(trecs, data_dir, val_ids, spec, val_rec, val_p, cache_dir, desc="val", **sub)
    test = record_inputs(trecs, data_dir, test_ids, spec, test_rec, test_p, cache_dir, desc="test", **sub)
    rm = fit_record_model(train, _labels(trecs, task, train_ids), val, _labels(trecs, task, val_ids), task.classes,
                          config, log=log)
    out = rm.save(run_dir, folder)
    y = _labels(trecs, task, test_ids)
    p = rm.predict_proba(test)
    metrics = record_metrics(task, y, p, test_ids, split.name)
    tree_report = classification_report(y, rm.tree_probs(test), task.classes)
    metrics["trees_alone"] = {"challenge_f1": challenge_score_cinc2017(tree_report["per_class"]),
                              "per_class_f1": {c: tree_report["per_class"][c]["f1"] for c in task.classes}}
    metrics["selection"] = rm.selection
    write_reports(out, metrics, y, p, task.classes, False)
    save_record_predictions(out / RECORD_PREDICTIONS, test_ids, y, p)
    log(f"{run_dir.name}: record model test challenge F1 {metrics['challenge_f1']:.4f} "
        f"(A {metrics['per_class']['A']['f1']:.3f}) -> {out}")
    return metrics


def record_metrics(task, y: np.ndarray, p: np.ndarray, ids: list[str], split_name: str, partition: str = "test"
                   ) -> dict:
    """classification_report of record decisions with the CinC keys (challenge_f1, n_records)."""
    report = classification_report(y, p, task.classes)
    return {"task": task.name, "partition": partition, "level": "record", "decision": "record_model", **report,
            "challenge_f1": challenge_score_cinc2017(report["per_class"]), "n_records": len(ids),
            "split": split_name}


def save_record_predictions(path: Path, ids: list[str], y: np.ndarray, probs: np.ndarray) -> None:
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, record=np.asarray(ids).astype(str), y=np.asarray(y, np.int64),
                            probs=np.asarray(probs, np.float32))


def record_model_probs(run_dir: Path, trecs: TaskRecords, data_dir: Path, ids: list[str], windows: WindowLabels,
                       probs: np.ndarray, cache_dir: Path | None = None) -> np.ndarray:
    """Record decisions (n_ids, K) of ``run_dir``'s saved record model for evaluated windows."""
    rm = RecordModel.load(run_dir)
    spec = ModelSpec.from_run(run_dir)
    feats = record_feature_table(trecs, data_dir, ids, spec.preprocess, cache_dir, desc="record features")
    rr = windows.rr if windows.rr is not None else np.zeros((len(windows), 0), np.float32)
    x = RecordInputs.build(ids, feats, windows.record, rr, probs)
    return rm.predict_proba(x)


__all__ = ["RECORD_MODEL_DIR", "fit_run_record_model", "record_model_probs"]
