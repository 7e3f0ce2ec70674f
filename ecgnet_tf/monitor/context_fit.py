"""The context model's probabilities on a CinC run's validation records, to choose its AF smoothing there.

For each validation record, window by window in time order, the record model decides the stretch of
the record that ends with the window (at most ``context_s`` seconds, :func:`~.context.context_inputs`),
as the streaming monitor would if the record were the start of a stream. The trees are refitted on
the run's **training** records only with the record model's chosen settings (the saved trees were
refitted on training + validation records, so they would score the validation records in-sample); a
fusion stage, when the run has one, was fitted on these validation records and stays in-sample (the
result says so). The MIT-BIH records are never read here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import preprocess as pp
from ..data import cinc2017
from ..progress import progress
from ..runs import ModelSpec, RunConfig
from ..tasks.inputs import segment_inputs
from ..training.evaluation import PREDICTIONS, load_predictions, run_records, window_predictions
from ..training.record_model import RecordInputs, RecordModel
from .context import ContextWindow, context_inputs


def record_context_inputs(x: np.ndarray, rpeaks: np.ndarray, fs: float, spec: ModelSpec, probs: np.ndarray,
                          context_s: float) -> list[RecordInputs]:
    """Context-model inputs of each window of one preprocessed record (``x`` (n,) mV at ``fs``, its R
    peaks, the network's window probabilities ``probs`` (n_windows, K) in window order): for window j,
    the stretch ``[max(0, end_j - context_s), end_j)`` and the windows inside it."""
    seg = segment_inputs(spec, x[:, None], fs, rpeaks, quality=False)
    if len(seg.starts) != len(probs):
        raise ValueError(f"{len(seg.starts)} windows cut but {len(probs)} window predictions; re-run the evaluation")
    w, n_ctx = spec.window_samples, int(round(context_s * fs))
    n_rr = len(pp.RHYTHM_FEATURE_NAMES)
    wins = [ContextWindow(int(s), int(s) + w, np.asarray(seg.rr[j], np.float64), np.asarray(probs[j], np.float64))
            for j, s in enumerate(seg.starts)]
    out = []
    for j, win in enumerate(wins):
        end = min(win.end, len(x))
        a = max(0, end - n_ctx)
        r = rpeaks[(rpeaks >= a) & (rpeaks < end)] - a
        inside = [v for v in wins[:j + 1] if v.start >= a and v.end <= max(end, w)]
        out.append(context_inputs(x[a:end], r, fs, inside, n_rr, probs.shape[1]))
    return out


def validation_context_probs(run_dir: Path, context_s: float, log=print) -> dict:
    """{"record", "y", "probs"} per validation window (the order of ``RUN/evaluations/val``), ``probs``
    being the context model's; plus ``"note"`` saying what is in-sample."""
    from ..tasks.record_table import record_feature_table, window_rr_rows

    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir)
    spec = ModelSpec.from_run(run_dir)
    data_dir = Path(cfg.data_dir)
    trecs = run_records(run_dir, data_dir)
    window_predictions(run_dir, "val", log=log)
    d = load_predictions(run_dir / "evaluations" / "val" / PREDICTIONS)
    rm = RecordModel.load(run_dir)
    train_ids = list(trecs.split.partition("train"))
    feats = record_feature_table(trecs, data_dir, train_ids, spec.preprocess, desc="train: record features")
    rec, rr = window_rr_rows(trecs, data_dir, train_ids, spec.preprocess, desc="train: window rows")
    train = RecordInputs.build(train_ids, feats, rec, rr)
    y_train = np.array([spec.classes.index(trecs.label_of[r]) for r in train_ids], np.int64)
    model = rm.trees_refitted(train, y_train)
    record = d["record"].astype(str)
    ids = list(dict.fromkeys(record.tolist()))
    inputs: list[RecordInputs] = []
    for rid in progress(ids, desc="validation records: context", unit="records"):
        rows = np.flatnonzero(record == rid)
        r = cinc2017.load_record(data_dir, rid, trecs.label_of[rid])
        sig = np.asarray(r.signal, np.float64)
        sig = sig[:, None] if sig.ndim == 1 else sig
        x, fs = pp.preprocess_signal(sig[:, :1], r.fs, spec.preprocess)
        peaks = pp.detect_rpeaks(x, fs, lead=0)
        got = record_context_inputs(x[:, 0], peaks, fs, spec, d["probs"][rows], context_s)
        inputs.extend(got)
    batch = RecordInputs([f"{i}" for i in range(len(inputs))], np.vstack([v.features for v in inputs]),
                         np.vstack([v.windows for v in inputs]), np.vstack([v.network for v in inputs]))
    probs = model.predict_proba(batch)
    order = np.concatenate([np.flatnonzero(record == rid) for rid in ids])
    out = np.zeros_like(probs)
    out[order] = probs
    note = ("trees refitted on the training records only; "
            + ("the fusion stage was fitted on these validation records (in-sample)" if rm.fusion is not None
               else "no fusion stage"))
    return {"record": record, "y": d["y"], "probs": out, "note": note}
