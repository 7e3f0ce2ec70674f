"""Evaluate a trained run on its held-out partition (or other records) and write its reports."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .. import atomic
from ..data.errors import DataError
from ..data.splits import DS2
from ..runs import ModelSpec, RunConfig, load_run_model, load_split
from ..settings import resolve_data_dir
from ..tasks import TaskRecords, Windows, catalog, get_task, iter_windows
from .metrics import challenge_score_cinc2017, classification_report
from .record_model import has_record_model
from .report import write_reports


#: per-window outputs of an evaluation, next to its metrics.json (see :func:`save_predictions`)
PREDICTIONS = "predictions.npz"


#: MIT-BIH DS2 test sets: strict (no subject on both sides) and as published (literature comparison only)
DS2_VARIANTS: tuple[str, ...] = ("strict21", "published22")


def ds2_records(variant: str, available: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """The records of a DS2 variant (:data:`DS2_VARIANTS`), restricted to ``available`` when given."""
    if variant not in DS2_VARIANTS:
        raise ValueError(f"unknown DS2 variant {variant!r}; choose one of {', '.join(DS2_VARIANTS)}")
    have = set(DS2 if available is None else available)
    return [r for r in DS2 if r in have and (variant == "published22" or r != "202")]


def ds2_variant(task: str, ids: list[str], available: list[str] | tuple[str, ...] | None = None) -> str | None:
    """"strict21" when ``ids`` are MIT-BIH DS2 without record 202 (its subject, 201, is in DS1), "published22"
    when they are DS2 as published, else None (not a DS2 evaluation). With ``available`` (the records
    present), DS2 means the DS2 records present (small copies used in tests)."""
    if task != "mitdb-aami":
        return None
    got = set(ids)
    for variant in DS2_VARIANTS:
        want = set(ds2_records(variant, available))
        if got == want and (variant == "published22") == ("202" in want):
            return variant
    return None


@dataclass
class WindowLabels:
    """The bookkeeping of evaluated windows without their signals: record id, label, quality flag and
    "rr" row of each window (what decisions, record models and ``predictions.npz`` need)."""

    record: np.ndarray  # (n,) record id
    y: np.ndarray  # (n,) int64 class index or (n, K) multi-hot
    ok: np.ndarray  # (n,) bool, passed the quality gate
    rr: np.ndarray | None = None  # (n, F) float32 rr rows (F may be 0)

    def __len__(self) -> int:
        return len(self.record)


def predict_stream(spec: ModelSpec, model, parts: Iterable[Windows], batch_size: int = 128,
                   chunk_batches: int = 16) -> tuple[WindowLabels, np.ndarray]:
    """Class probabilities of the windows of ``parts`` (e.g. one :class:`Windows` per record from
    :func:`~ecgnet_tf.tasks.iter_windows`), holding at most about ``chunk_batches`` batches of
    windows at once, so thousands of records are evaluated in bounded memory.

    Windows are predicted in full batches of ``batch_size`` (the rest carried to the next chunk), the
    same batches as one ``spec.predict`` over all windows gives (equal up to float rounding of graphs
    traced for other input sizes). Returns (labels, probs (n, K)).
    """
    probs: list[np.ndarray] = []
    labels: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    pending: list[Windows] = []
    n_pending = 0
    for w in parts:
        labels.append((np.asarray(w.record), w.y, w.ok, w.rr))
        pending.append(w)
        n_pending += len(w)
        if n_pending >= chunk_batches * batch_size:
            cat = Windows.concat(pending)
            k = len(cat) // batch_size * batch_size
            probs.append(predict_windows(spec, model, cat.take(np.arange(k)), batch_size))
            pending = [cat.take(np.arange(k, len(cat)))]
            n_pending = len(cat) - k
    if n_pending:
        probs.append(predict_windows(spec, model, Windows.concat(pending), batch_size))
    if not labels:
        raise ValueError("no records to evaluate")
    record, y, ok, rr = (np.concatenate([part[i] for part in labels]) for i in range(4))
    p = np.concatenate(probs) if probs else np.zeros((0, len(spec.classes)))
    return WindowLabels(record, y, ok, rr), p


def run_records(run_dir: Path, data_dir: Path | None = None) -> TaskRecords:
    """The run's task records: the catalogue under ``data_dir`` (default the run's) with the run's split."""
    cfg = RunConfig.load(run_dir)
    task = get_task(cfg.task)
    cat = catalog(task, resolve_data_dir(data_dir or cfg.data_dir))
    return TaskRecords(task, load_split(run_dir), cat.label_of, cat.entry_of)


def window_predictions(run_dir: Path, partition: str, cache_dir: Path | None = None, model=None, log=print
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(record id per window, class probabilities (n, K)) of the run's network on a partition's
    windows: read from ``predictions.npz`` when the run's evaluation wrote it (test: the run folder;
    val: ``RUN/evaluations/val``), else predicted and saved there."""
    run_dir = Path(run_dir)
    path = run_dir / PREDICTIONS if partition == "test" else run_dir / "evaluations" / partition / PREDICTIONS
    if path.is_file():
        d = load_predictions(path)
        return d["record"].astype(str), d["probs"]
    cfg = RunConfig.load(run_dir)
    data_dir = resolve_data_dir(cfg.data_dir)
    trecs = run_records(run_dir, data_dir)
    spec = ModelSpec.from_run(run_dir)
    model = model if model is not None else load_run_model(run_dir)
    log(f"{run_dir.name}: predicting the {partition} windows")
    parts = iter_windows(trecs, data_dir, trecs.split.partition(partition), spec.preprocess, cache_dir=cache_dir,
                         max_per_record=cfg.eval_max_per_record, seed=cfg.seed, desc=f"{partition} windows",
                         morph="morph" in spec.inputs)
    labels, probs = predict_stream(spec, model, parts)
    save_predictions(path, labels, probs)
    return labels.record.astype(str), probs


def read_records_file(path: Path) -> list[str]:
    """Record ids listed in a text file, one per line; blank lines and ``#`` comments are ignored
    (first occurrence kept when an id repeats)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: records file not found")
    ids = []
    for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        rid = line.split("#", 1)[0].strip()
        if rid:
            ids.append(rid)
    if not ids:
        raise ValueError(f"{path}: lists no record ids (one id per line; blank lines and # comments are ignored)")
    return list(dict.fromkeys(ids))


def save_predictions(path: Path, windows: Windows | WindowLabels, probs: np.ndarray) -> None:
    """Write each window's record, label and class probabilities (for choosing decision rules on
    cross-validation folds and for users' own analyses): arrays ``record``, ``y``, ``probs`` (float32)."""
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, record=np.asarray(windows.record).astype(str), y=np.asarray(windows.y),
                            probs=np.asarray(probs, np.float32))


def load_predictions(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a :func:`save_predictions` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no predictions (written by evaluate since the DS1 cross-validation)")
    with np.load(path) as z:
        return {k: z[k] for k in ("record", "y", "probs")}


def predict_windows(spec: ModelSpec, model, windows: Windows, batch_size: int = 128) -> np.ndarray:
    """Class probabilities (n, K) of ``model`` for (not yet z-scored) ``windows``."""
    return spec.predict(model, windows.named(), batch_size=batch_size)


def decide_windows(spec: ModelSpec, windows: Windows | WindowLabels, probs: np.ndarray
                   ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Decisions at the task's level: (ids, labels, probabilities); record tasks aggregate windows."""
    ids, p = spec.decide(windows.record, probs, windows.ok)
    if spec.decision.aggregation == "none":
        return ids, windows.y, p
    first = {rid: i for i, rid in reversed(list(enumerate(windows.record.tolist())))}
    return ids, np.asarray([windows.y[first[r]] for r in ids]), p


def decision_level(spec: ModelSpec) -> str:
    """Where the task decides: "beat" (each window alone) or "record" (windows aggregated per record)."""
    return "beat" if spec.decision.aggregation == "none" else "record"


def task_metrics(spec: ModelSpec, windows: Windows, probs: np.ndarray) -> dict:
    """``classification_report`` at the task's level, with "level" ("record" or "beat")."""
    _, y, p = decide_windows(spec, windows, probs)
    return {"level": decision_level(spec), **classification_report(y, p, spec.classes, multilabel=spec.multilabel)}


def default_out_dir(run_dir: Path, data_dir: Path | None, records: list[str] | None, partition: str,
                    run_data_dir: str | None) -> Path:
    """Where an evaluation's reports go when no folder is given.

    Only the run's own held-out evaluation (test partition, the run's data, all records) writes into
    the run folder (``metrics.json`` is the run's result); anything else gets a subfolder of
    ``RUN/evaluations/`` named after what was evaluated, so it never overwrites the run's metrics. A
    published run names no data folder (``run_data_dir`` None): its split is of the public database,
    wherever that lies, so any data folder counts as its own.
    """
    own_data = data_dir is None or run_data_dir is None or Path(data_dir).resolve() == Path(run_data_dir).resolve()
    if not records and partition == "test" and own_data:
        return Path(run_dir)
    parts = [partition if not records else "records-" + "-".join(records[:5]) + ("-etc" if len(records) > 5 else "")]
    if not own_data:
        parts.append("data-" + Path(data_dir).resolve().name)
    return Path(run_dir) / "evaluations" / "_".join(parts)


def evaluate_run(run_dir: Path, data_dir: Path | None = None, records: list[str] | None = None,
                 partition: str = "test", out_dir: Path | None = None, cache_dir: Path | None = None,
                 model=None) -> dict:
    """Evaluate ``run_dir``'s best model; write metrics.json, report.md and figures; return the metrics.

    Reports go to ``out_dir``, else :func:`default_out_dir` (the run folder only for its own test set).
    Records are read one at a time and predicted in chunks (:func:`predict_stream`), so memory does
    not grow with the number of records. Unknown ``records`` give a DataError listing some of them.
    """
    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(run_dir, data_dir, records, partition,
                                                                        cfg.data_dir)
    task = get_task(cfg.task)
    spec = ModelSpec.from_run(run_dir)
    data_dir = resolve_data_dir(data_dir or cfg.data_dir)
    split = load_split(run_dir)
    ids = list(records) if records else list(split.partition(partition))
    # a shipped pretrained model's run.json names no data folder: its split is of the public database
    if records and (cfg.data_dir is None or data_dir.resolve() == Path(cfg.data_dir).resolve()):
        seen = sorted(set(ids) & (set(split.train) | set(split.val)))
        if seen:
            print(f"warning: {len(seen)} record(s) ({', '.join(seen[:10])}{', ...' if len(seen) > 10 else ''}) "
                  "were used for training/validation of this run; their metrics are not held-out figures",
                  file=sys.stderr)
    cat = catalog(task, data_dir)
    missing = [i for i in ids if i not in cat.label_of]
    if missing:
        raise DataError(f"{len(missing)} of {len(ids)} record id(s) are not labelled {task.name} records under "
                        f"{data_dir}: {', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''}")
    trecs = TaskRecords(task, split, cat.label_of, cat.entry_of)
    model = model if model is not None else load_run_model(run_dir)
    parts = iter_windows(trecs, data_dir, ids, spec.preprocess, cache_dir=cache_dir,
                         max_per_record=cfg.eval_max_per_record, seed=cfg.seed,
                         desc=f"{partition if not records else 'records'} windows", morph="morph" in spec.inputs)
    windows, probs = predict_stream(spec, model, parts)
    rec_ids, y, p = decide_windows(spec, windows, probs)
    level = "record" if task.record_level else "beat"
    if level == "beat":
        rec_ids = sorted(set(windows.record.tolist()))
    decision, network_alone = "network", None
    if task.name == "cinc2017" and has_record_model(run_dir):
        from .record_stage import record_model_probs  # the record model reads whole records again

        net = classification_report(y, p, task.classes)
        network_alone = {"challenge_f1": challenge_score_cinc2017(net["per_class"]),
                         "per_class_f1": {c: net["per_class"][c]["f1"] for c in task.classes}}
        p = record_model_probs(run_dir, trecs, data_dir, list(rec_ids), windows, probs, cache_dir)
        decision = "record_model"
    report = classification_report(y, p, task.classes, multilabel=task.multilabel)
    metrics = {"task": task.name, "partition": partition if not records else "records", "level": level,
               "decision": decision, **report, "n_records": len(rec_ids), "n_windows": len(windows),
               "windows_rejected_by_quality_gate": int((~windows.ok).sum()), "split": split.name,
               "model": "model.keras", "profile": cfg.profile, "config": cfg.config,
               "windows_capped_per_record": cfg.eval_max_per_record}
    if task.name == "cinc2017":  # mean F1 of N, A, O; "challenge_score" is the older name of the same figure
        metrics["challenge_f1"] = metrics["challenge_score"] = challenge_score_cinc2017(report["per_class"])
    if network_alone is not None:
        metrics["network_alone"] = network_alone
    if not records:
        metrics["partition"] = partition
    variant = ds2_variant(task.name, ids, cat.ids)
    if variant:
        metrics["ds2_variant"] = variant
    write_reports(out_dir, metrics, y, p, task.classes, task.multilabel)
    save_predictions(out_dir / PREDICTIONS, windows, probs)
    metrics["out_dir"] = str(out_dir)
    return metrics
