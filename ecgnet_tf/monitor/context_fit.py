"""The context model's probabilities on a CinC run's validation records, to choose its AF smoothing there.

The validation records are joined into the same streams as the network's smoothing is chosen on
(:func:`~.smoothing_fit.stream_groups`: seeded order, ``n_streams`` groups), and for each window, in
stream order, the record model decides the last ``context_s`` seconds of the joined stream that end
with the window (:class:`~.context.RhythmContext`, exactly as the streaming monitor does: a context
may span the end of one record and the start of the next, so AF onsets are as late as they would be
in a stream). The trees are refitted on the run's **training** records only with the record model's
chosen settings (the saved trees were refitted on training + validation records, so they would
score the validation records in-sample); a fusion stage, when the run has one, was fitted on these
validation records and stays in-sample (the result says so). The MIT-BIH records are never read here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import preprocess as pp
from ..data import cinc2017
from ..progress import progress
from ..runs import ModelSpec, RunConfig
from ..settings import resolve_data_dir
from ..tasks.inputs import segment_inputs
from ..training.evaluation import PREDICTIONS, load_predictions, run_records, window_predictions
from ..training.record_model import RecordInputs, RecordModel
from .context import ContextWindow, RhythmContext, context_inputs
from .smoothing_fit import stream_groups


def stream_context_inputs(records: list[tuple[np.ndarray, np.ndarray, np.ndarray]], fs: float, spec: ModelSpec,
                          context_s: float) -> list[RecordInputs]:
    """Context-model inputs of every window of records joined end to end into one stream, window by
    window in stream order. ``records``: (x (n,) preprocessed mV at ``fs``, R peaks (samples), the
    network's window probabilities (n_windows, K) in window order) of each record, in stream order."""
    ctx = RhythmContext(fs, context_s)
    w, n_rr = spec.window_samples, len(pp.RHYTHM_FEATURE_NAMES)
    out: list[RecordInputs] = []
    offset = 0
    for x, peaks, probs in records:
        seg = segment_inputs(spec, x[:, None], fs, peaks, quality=False)
        if len(seg.starts) != len(probs):
            raise ValueError(f"{len(seg.starts)} windows cut but {len(probs)} window predictions; re-run the evaluation")
        for j, s0 in enumerate(seg.starts.tolist()):
            win = ContextWindow(offset + s0, offset + s0 + w, np.asarray(seg.rr[j], np.float64),
                                np.asarray(probs[j], np.float64))
            ctx.step(x, offset, peaks, win)  # as the monitor does (Monitor._analyse)
            xs, ps, wins = ctx.stretch(win.end)
            out.append(context_inputs(xs, ps, fs, wins, n_rr, probs.shape[1]))
        offset += len(x)
    return out


def validation_context_probs(run_dir: Path, contexts: tuple[float, ...], n_streams: int = 4, seed: int = 0,
                             log=print) -> dict:
    """{"record", "y", "probs": {context_s: (n, K)}, "note"} per validation window, in the order of
    ``RUN/evaluations/val`` (so :func:`~.smoothing_fit.validation_streams` with the same ``n_streams``
    and ``seed`` rebuilds the streams they were computed on)."""
    from ..tasks.record_table import preprocessed_lead
    from ..training.record_stage import record_inputs

    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir)
    spec = ModelSpec.from_run(run_dir)
    data_dir = resolve_data_dir(cfg.data_dir)
    trecs = run_records(run_dir, data_dir)
    window_predictions(run_dir, "val", log=log)
    d = load_predictions(run_dir / "evaluations" / "val" / PREDICTIONS)
    rm = RecordModel.load(run_dir)
    train_ids = list(trecs.split.partition("train"))
    train = record_inputs(trecs, data_dir, train_ids, spec, desc="train")
    y_train = np.array([spec.classes.index(trecs.label_of[r]) for r in train_ids], np.int64)
    model = rm.trees_refitted(train, y_train)
    record = d["record"].astype(str)
    ids = list(dict.fromkeys(record.tolist()))
    where = {rid: np.flatnonzero(record == rid) for rid in ids}
    fs = spec.fs
    out = {c: np.zeros_like(d["probs"], dtype=np.float64) for c in contexts}
    for group in progress(stream_groups(ids, n_streams, seed), desc="validation streams: context", unit="streams"):
        joined = []
        for rid in group:
            r = cinc2017.load_record(data_dir, rid, trecs.label_of[rid])
            x, fs, peaks = preprocessed_lead(r.signal, r.fs, spec.preprocess)
            joined.append((x, peaks, d["probs"][where[rid]]))
        rows = np.concatenate([where[rid] for rid in group])
        for c in contexts:
            inputs = stream_context_inputs(joined, fs, spec, c)
            batch = RecordInputs([str(i) for i in range(len(inputs))], np.vstack([v.features for v in inputs]),
                                 np.vstack([v.windows for v in inputs]), np.vstack([v.network for v in inputs]))
            out[c][rows] = model.predict_proba(batch)
    note = ("validation records joined into streams (contexts span record boundaries); trees refitted on the "
            "training records only; " + ("the fusion stage was fitted on these validation records (in-sample)"
                                         if rm.fusion is not None else "no fusion stage"))
    return {"record": record, "y": d["y"], "probs": out, "note": note}
