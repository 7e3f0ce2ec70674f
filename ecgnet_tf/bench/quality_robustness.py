"""Robustness curves: a trained model's task metrics on test records with synthetic noise added
(:mod:`ecgnet_tf.signal_quality.noise`) at several SNRs, with and without the quality gate.

The noise is added to the raw lead (mV, the record's own rate) before the project's whole
preprocessing, exactly as a noisy recording would arrive. "With the gate" means the gate examines
the same noisy lead: beats (MIT-BIH) in rejected windows are left out of the metrics (and counted as
rejected); records (CinC 2017) the gate calls unreadable are reported as noisy (``~``) instead of
being classified. Every condition is seeded per (record, kind, SNR), so reruns give equal numbers.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import cinc2017, mitdb
from ..preprocess.sqi import SqiConfig
from ..progress import progress
from ..runs import ModelSpec, load_run_model
from ..signal_quality.features import sqi_table
from ..signal_quality.gate import QualityGate
from ..signal_quality.noise import add_noise
from ..tasks.spec import get_task
from ..tasks.windows import signal_windows
from ..training.metrics import challenge_score_cinc2017, classification_report

CLEAN = ("clean", None)


@dataclass(frozen=True)
class Condition:
    """A noise condition: kind (``clean`` for none) and SNR in dB (None for clean)."""

    kind: str
    snr_db: float | None

    @property
    def name(self) -> str:
        return "clean" if self.kind == "clean" else f"{self.kind}@{self.snr_db:g}dB"


def conditions(kinds: Sequence[str], snrs: Sequence[float]) -> list[Condition]:
    return [Condition("clean", None)] + [Condition(k, float(s)) for k in kinds for s in snrs]


def noisy_lead(x: np.ndarray, fs: float, cond: Condition, record: str) -> np.ndarray:
    """The lead ``x`` (n,) under ``cond`` (seeded by record, kind and SNR)."""
    if cond.kind == "clean":
        return np.asarray(x, np.float64)
    seed = zlib.crc32(f"{record}|{cond.kind}|{cond.snr_db:g}".encode())
    return add_noise(x, fs, cond.kind, float(cond.snr_db), seed)


def _window_ok(gate: QualityGate, x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(window centre times in s, ok flags) of the gate over lead ``x``."""
    starts, sq = sqi_table(x, fs, gate.window_s, gate.step_s, SqiConfig())
    w = min(x.size, int(round(gate.window_s * fs)))
    return (starts + w / 2) / fs, gate.decide(sq).ok


def beat_metrics(y: np.ndarray, pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1 over the classes present, and Se / +P of S and V beats (AAMI)."""
    k = len(classes)
    p = np.eye(k)[pred] if len(pred) else np.zeros((0, k))
    rep = classification_report(y, p, classes)
    per = rep["per_class"]
    present = [c for c in classes if per[c]["support"] > 0]
    out = {"n": int(len(y)), "accuracy": rep["accuracy"],
           "macro_f1": float(np.nanmean([per[c]["f1"] for c in present])) if present else float("nan")}
    for c in ("S", "V"):
        if c in per:
            out[f"{c}_se"], out[f"{c}_ppv"] = per[c]["sensitivity"], per[c]["ppv"]
    return out


def beat_robustness(run_dir: Path, data_dir: Path, records: Sequence[str], conds: Sequence[Condition],
                    gate: QualityGate, max_seconds: float | None = None) -> list[dict]:
    """Per condition: beat metrics of ``run_dir``'s MIT-BIH model on ``records`` (first
    ``max_seconds`` of each when given), without and with the gate, and the share of beats rejected."""
    spec = ModelSpec.from_run(run_dir)
    model = load_run_model(Path(run_dir))
    task = get_task(spec.task)
    recs = {r: mitdb.load_record(data_dir, r) for r in records}
    rows = []
    for cond in progress(conds, desc="beat robustness", unit="condition"):
        ys, preds, oks = [], [], []
        for r, rec in recs.items():
            x = rec.signal[:, 0].astype(np.float64)
            n = x.size if max_seconds is None else min(x.size, int(max_seconds * rec.fs))
            x = noisy_lead(x[:n], rec.fs, cond, r)
            keep = rec.beat_samples < n
            rw = signal_windows(task, r, x[:, None], rec.fs, spec.preprocess, rec.lead_names,
                                beats=rec.beat_samples[keep], beat_classes=rec.beat_classes[keep])
            probs = spec.predict(model, rw.named())
            _, dec = spec.decide(np.full(len(probs), r), probs)
            centres, ok = _window_ok(gate, x, rec.fs)
            beat_t = rw.start_s + (rw.x.shape[1] / rw.fs) / 2
            nearest = np.abs(beat_t[:, None] - centres[None, :]).argmin(axis=1)
            valid = rw.y >= 0
            ys.append(rw.y[valid])
            preds.append(dec.argmax(axis=1)[valid])
            oks.append(ok[nearest][valid])
        y, pred, ok = np.concatenate(ys), np.concatenate(preds), np.concatenate(oks)
        rows.append({"condition": cond.name, "kind": cond.kind, "snr_db": cond.snr_db,
                     "without_gate": beat_metrics(y, pred, spec.classes),
                     "with_gate": beat_metrics(y[ok], pred[ok], spec.classes),
                     "rejected_fraction": float(1 - ok.mean()) if ok.size else 0.0})
    return rows


def _challenge(y: np.ndarray, p: np.ndarray, classes: Sequence[str]) -> dict:
    rep = classification_report(y, p, classes)
    return {"n": int(len(y)), "challenge_f1": challenge_score_cinc2017(rep["per_class"]),
            "A_f1": rep["per_class"]["A"]["f1"], "accuracy": rep["accuracy"]}


def rhythm_robustness(run_dir: Path, data_dir: Path, records: Sequence[str], conds: Sequence[Condition],
                      gate: QualityGate) -> list[dict]:
    """Per condition: record-level F1(N, A, O) of ``run_dir``'s CinC 2017 network and, when the run
    has one, its record model, on ``records``; with the gate, unreadable records are answered ``~``."""
    from ..tasks.record_table import signal_record_features
    from ..training.record_model import RecordInputs, RecordModel, has_record_model

    spec = ModelSpec.from_run(run_dir)
    task = get_task(spec.task)
    model = load_run_model(Path(run_dir))
    rm = RecordModel.load(run_dir) if has_record_model(run_dir) else None  # else network decisions only
    noise_idx = spec.classes.index("~")
    labels = cinc2017.read_reference(data_dir)
    recs = {r: cinc2017.load_record(data_dir, r, labels[r]) for r in records}
    y = np.array([spec.classes.index(labels[r]) for r in records])
    rows = []
    for cond in progress(conds, desc="rhythm robustness", unit="condition"):
        win_rec, win_probs, win_rr, win_ok, feats, unreadable = [], [], [], [], [], []
        for r, rec in recs.items():
            x = noisy_lead(rec.signal[:, 0], rec.fs, cond, r)
            rw = signal_windows(task, r, x[:, None], rec.fs, spec.preprocess, ("ECG",), label=rec.label)
            win_probs.append(spec.predict(model, rw.named()))
            win_rec.append(np.full(len(rw), r))
            win_rr.append(rw.rr)
            win_ok.append(rw.ok)
            if rm is not None:
                feats.append(signal_record_features(x, rec.fs, spec.preprocess))
            _, ok = _window_ok(gate, x, rec.fs)
            unreadable.append(gate.record_unreadable(ok))
        wr, wp, wok = np.concatenate(win_rec), np.concatenate(win_probs), np.concatenate(win_ok)
        _, net = spec.decide(wr, wp, wok)
        if rm is not None:
            x_in = RecordInputs.build(list(records), np.stack(feats), wr, np.concatenate(win_rr), wp)
            dec = rm.predict_proba(x_in)
        else:
            dec = net
        flag = np.array(unreadable)
        gated = dec.copy()
        gated[flag] = np.eye(len(spec.classes))[noise_idx]
        rows.append({"condition": cond.name, "kind": cond.kind, "snr_db": cond.snr_db,
                     "decision": "record model" if rm is not None else "network",
                     "without_gate": _challenge(y, dec, spec.classes),
                     "with_gate": _challenge(y, gated, spec.classes),
                     "network_alone": _challenge(y, net, spec.classes),
                     "rejected_fraction": float(flag.mean())})
    return rows
