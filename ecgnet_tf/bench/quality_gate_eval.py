"""Validation of the quality gate: cross-validation on CinC 2017, the shipped fit, MIT-BIH rejection
rates and the throughput / memory of a 24-hour stream. Used by ``python -m ecgnet_tf.quality_study``.

Honesty: in every fold the gate is fitted (coefficients and threshold) on the fold's training and
validation records only and scored on its test records, the same patient-grouped folds as the
rhythm study; the shipped gate is fitted on the training and validation records of the default
split (fold 0), never on its test records.
"""
from __future__ import annotations

import hashlib
import time
import tracemalloc
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..data import cinc2017, mitdb
from ..signal_quality.fit import GateFitConfig, fit_gate, record_flags
from ..signal_quality.gate import QualityGate
from ..signal_quality.stream import QualitySummary, stream_quality
from ..signal_quality.tables import SqiTable, database_sqi_table
from ..tasks.records import task_records
from ..tasks.spec import get_task
from ..training.metrics import auroc, challenge_score_cinc2017, classification_report

CINC_CLASSES = ("N", "A", "O", "~")


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:12]


def cinc_table(data_dir: Path, cache_dir: Path | None, ids: Sequence[str] | None = None) -> tuple[SqiTable, dict]:
    """SQI table of CinC 2017 records (all present by default) and their labels."""
    labels = cinc2017.read_reference(data_dir)
    ids = sorted(labels) if ids is None else list(ids)
    return database_sqi_table("cinc2017", data_dir, ids, cache_dir), labels


def fold_partitions(data_dir: Path, fold: int, folds: int = 5, ids: Sequence[str] | None = None
                    ) -> tuple[list[str], list[str], str]:
    """(training ids = train + validation, test ids, split name) of a CinC 2017 fold."""
    split = task_records(get_task("cinc2017"), data_dir, fold=fold, folds=folds).split
    train = [r for r in (*split.train, *split.val) if ids is None or r in ids]
    test = [r for r in split.test if ids is None or r in ids]
    if set(train) & set(test):
        raise AssertionError("a record is in both the gate's training and test records")
    return train, test, split.name


def fit_on(table: SqiTable, labels: dict, ids: Sequence[str], cfg: GateFitConfig, fitted_on: dict
           ) -> tuple[QualityGate, dict]:
    sub = table.subset(ids)
    noisy = np.array([labels[r] == "~" for r in sub.ids])
    return fit_gate(sub.sqis, sub.record, noisy, cfg,
                    fitted_on={**fitted_on, "ids_sha": ids_digest(ids)})


def _record_predictions(rhythm_root: Path | None, fold: int) -> dict | None:
    if rhythm_root is None:
        return None
    p = Path(rhythm_root) / f"f{fold}" / "record_model" / "predictions.npz"
    if not p.is_file():
        return None
    z = np.load(p, allow_pickle=False)
    return {"record": z["record"].astype(str), "y": z["y"], "probs": z["probs"]}


def f1_with_abstention(pred: dict, flagged_ids: set[str]) -> dict:
    """CinC F1(N, A, O) of saved record decisions, as they are and with the gate's unreadable records
    answered ``~``."""
    probs = pred["probs"].astype(np.float64)
    gated = probs.copy()
    m = np.array([r in flagged_ids for r in pred["record"]])
    gated[m] = np.eye(probs.shape[1])[CINC_CLASSES.index("~")]
    out = {}
    for name, p in (("without_gate", probs), ("with_gate", gated)):
        rep = classification_report(pred["y"], p, CINC_CLASSES)
        out[name] = {"challenge_f1": challenge_score_cinc2017(rep["per_class"]),
                     "noisy_f1": rep["per_class"]["~"]["f1"], "accuracy": rep["accuracy"]}
    out["changed_records"] = int((gated.argmax(1) != probs.argmax(1)).sum())
    return out


def cinc_cross_validation(data_dir: Path, cache_dir: Path | None, folds: int = 5, cfg: GateFitConfig = GateFitConfig(),
                          rhythm_root: Path | None = None, ids: Sequence[str] | None = None, log=print) -> dict:
    """Gate fitted on each fold's training records, scored on its test records (see module docstring)."""
    table, labels = cinc_table(data_dir, cache_dir, ids)
    rows, pooled_flag, pooled_noisy, pooled_label, pooled_score = [], [], [], [], []
    for fold in range(folds):
        train, test, split_name = fold_partitions(data_dir, fold, folds, set(table.ids))
        gate, info = fit_on(table, labels, train, cfg, {"database": "cinc2017", "split": split_name,
                                                        "partitions": "train+val"})
        sub = table.subset(test)
        flags, frac = record_flags(gate, sub.sqis, sub.record, len(test))
        lab = np.array([labels[r] for r in test])
        noisy = lab == "~"
        score = np.bincount(sub.record, weights=gate.score(sub.sqis), minlength=len(test)) / np.maximum(
            np.bincount(sub.record, minlength=len(test)), 1)
        row = {"fold": fold, "split": split_name, "train_records": len(train), "test_records": len(test),
               "train_ids_sha": ids_digest(train), "test_ids_sha": ids_digest(test),
               "test_noisy": int(noisy.sum()),
               "sensitivity": float(flags[noisy].mean()) if noisy.any() else float("nan"),
               "false_rejection": float(flags[~noisy].mean()),
               "false_rejection_by_class": {c: float(flags[lab == c].mean()) for c in ("N", "A", "O") if (lab == c).any()},
               "record_score_auc": auroc(noisy, score),
               "window_threshold": gate.window_threshold,
               "oof_train": {"sensitivity": gate.fitted_on["oof_sensitivity"],
                             "false_rejection": gate.fitted_on["oof_false_rejection"]},
               "curve": info["curve"]}
        pred = _record_predictions(rhythm_root, fold)
        if pred is not None:
            if set(pred["record"].tolist()) != set(test):
                raise AssertionError(f"fold {fold}: the rhythm study's test records differ from this fold's")
            row["f1"] = f1_with_abstention(pred, {r for r, f in zip(test, flags) if f})
        rows.append(row)
        pooled_flag.append(flags)
        pooled_noisy.append(noisy)
        pooled_label.append(lab)
        pooled_score.append(score)
        log(f"fold {fold}: Se {row['sensitivity']:.3f}, false rejection {row['false_rejection']:.3f} "
            f"({row['test_noisy']} noisy of {len(test)})")
    flag, noisy = np.concatenate(pooled_flag), np.concatenate(pooled_noisy)
    lab = np.concatenate(pooled_label)
    pooled = {"sensitivity": float(flag[noisy].mean()), "false_rejection": float(flag[~noisy].mean()),
              "false_rejection_by_class": {c: float(flag[lab == c].mean()) for c in ("N", "A", "O")},
              "record_score_auc": auroc(noisy, np.concatenate(pooled_score)),
              "records": int(flag.size), "noisy": int(noisy.sum())}
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("sensitivity", "false_rejection")}
    std = {k: float(np.std([r[k] for r in rows])) for k in ("sensitivity", "false_rejection")}
    out = {"folds": rows, "pooled": pooled, "mean": mean, "std": std, "fit_config": cfg.__dict__}
    if all("f1" in r for r in rows):
        out["f1"] = {k: {m: float(np.mean([r["f1"][k][m] for r in rows])) for m in ("challenge_f1", "noisy_f1")}
                     for k in ("without_gate", "with_gate")}
    return out


def fit_shipped_gate(data_dir: Path, cache_dir: Path | None, cfg: GateFitConfig = GateFitConfig(),
                     ids: Sequence[str] | None = None) -> tuple[QualityGate, dict]:
    """The gate to ship: one fit on the training + validation records of the default CinC split."""
    table, labels = cinc_table(data_dir, cache_dir, ids)
    train, test, split_name = fold_partitions(data_dir, 0, 5, set(table.ids))
    return fit_on(table, labels, train, cfg, {"database": "cinc2017", "split": split_name,
                                              "partitions": "train+val (test fold 0 never seen)",
                                              "excluded_test_ids_sha": ids_digest(test)})


def mitdb_rejection(data_dir: Path, cache_dir: Path | None, gate: QualityGate,
                    records: Sequence[str] | None = None) -> dict:
    """Per record and total window rejection of ``gate`` on MIT-BIH (first lead, raw)."""
    records = list(records) if records is not None else mitdb.available_records(data_dir, include_paced=True)
    table = database_sqi_table("mitdb", data_dir, records, cache_dir, gate.window_s, gate.step_s)
    d = gate.decide(table.sqis)
    per = []
    for i, r in enumerate(table.ids):
        m = table.record == i
        reasons: dict[str, int] = {}
        for rs in (d.reasons[j] for j in np.flatnonzero(m)):
            if rs:
                reasons[rs[0]] = reasons.get(rs[0], 0) + 1
        per.append({"record": r, "windows": int(m.sum()), "rejected": int((~d.ok[m]).sum()),
                    "rejection": float((~d.ok[m]).mean()), "score_mean": float(d.score[m].mean()),
                    "reasons": dict(sorted(reasons.items()))})
    ranked = sorted(per, key=lambda p: -p["rejection"])
    total = float((~d.ok).mean())
    return {"records": per, "total_rejection": total, "windows": int(d.ok.size), "rejected": int((~d.ok).sum()),
            "worst": [p["record"] for p in ranked[:10]],
            "rank_of_105": next((k + 1 for k, p in enumerate(ranked) if p["record"] == "105"), None)}


def synthetic_day(fs: float = 360.0, hours: float = 24.0, block_s: float = 300.0, chunk_s: float = 60.0,
                  seed: int = 0) -> Iterator[np.ndarray]:
    """A long single-lead recording as chunks: a 5-minute synthetic block (sinus with ectopic beats,
    every other block with a noisy stretch) repeated, never held whole in memory."""
    from ..synthetic import synth_ecg
    from ..signal_quality.noise import add_noise

    clean = synth_ecg(duration_s=block_s, fs=fs, beat_probs={"V": 0.05, "S": 0.03}, seed=seed).signal[:, 0]
    noisy = clean.copy()
    a, b = int(60 * fs), int(120 * fs)
    noisy[a:b] = add_noise(clean[a:b], fs, "motion", 0.0, seed)
    per_block = int(block_s * fs)
    c = int(chunk_s * fs)
    n_blocks = int(np.ceil(hours * 3600 / block_s))
    for k in range(n_blocks):
        blk = noisy if k % 2 else clean
        for s in range(0, per_block, c):
            yield blk[s:s + c]


def _gate_pass(gate: QualityGate, fs: float, hours: float, trace: bool
               ) -> tuple[QualitySummary, float, float, float, int]:
    """(summary, CPU s, wall s, peak traced MiB or nan, most samples buffered) of one pass over a
    synthetic recording."""
    summary = QualitySummary(step_s=gate.step_s)
    stats: dict = {}
    gen = synthetic_day(fs, hours=hours)
    first = next(gen)  # the repeated block is built before measuring

    def all_chunks():
        yield first
        yield from gen

    if trace:
        tracemalloc.start()
    t0, w0 = time.process_time(), time.perf_counter()
    for w in stream_quality(all_chunks(), fs, gate, stats=stats):
        summary.add(w)
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    peak = float("nan")
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
    return summary, cpu, wall, peak, int(stats.get("max_buffer", 0))


def throughput(gate: QualityGate, hours: float = 24.0, fs: float = 360.0, traced_hours: float = 1.0) -> dict:
    """Gate a synthetic ``hours``-long recording at ``fs`` Hz: timed (CPU time of this process, one
    core) with the most samples buffered, then the first ``traced_hours`` again under ``tracemalloc``
    (which slows Python several-fold) for the peak memory the gate allocates."""
    _gate_pass(gate, fs, min(hours, 0.1), False)  # warm-up
    summary, cpu, wall, _, buffered = _gate_pass(gate, fs, hours, False)
    _, _, _, peak, _ = _gate_pass(gate, fs, min(hours, traced_hours), True)
    dur = hours * 3600.0
    return {"hours": hours, "fs": fs, "cpu_s": cpu, "wall_s": wall, "x_realtime_cpu": dur / cpu,
            "x_realtime_wall": dur / wall, "max_buffered_samples": buffered,
            "max_buffered_s": buffered / fs, "traced_hours": min(hours, traced_hours),
            "peak_traced_mb": peak, **summary.to_dict()}
