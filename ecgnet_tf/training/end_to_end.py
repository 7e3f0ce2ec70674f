"""End-to-end beat evaluation: the project's own R-peak detector, then EC57 beat-by-beat scoring.

The reference-peak evaluation (:func:`~ecgnet_tf.training.evaluation.evaluate_run`) centres every
window on an annotated beat, which a device never has. Here each record is preprocessed as in
training, R peaks are found by the project's Pan-Tompkins detector
(:func:`ecgnet_tf.preprocess.detect_rpeaks`), every detected beat is classified (its RR features from
the detected beats too), and the labelled detections are compared with the reference annotations by
:func:`ecgnet_tf.scoring.bxb` (matching within 150 ms; missed reference beats and extra detections
count as errors). Beats within half a window (1.25 s) of a record's start or end are left out on both
sides: neither mode can cut a full window around them.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import atomic
from ..data import mitdb
from ..data.errors import DataError
from ..progress import progress
from ..runs import ModelSpec, RunConfig, load_run_model, load_split
from ..settings import resolve_data_dir
from ..scoring import TOLERANCE_S, BxbResult, average, bxb, gross
from ..tasks import get_task
from ..tasks.windows import signal_windows
from .evaluation import ds2_variant


@dataclasses.dataclass(frozen=True)
class RecordDetections:
    """One record's detected, classified beats and its reference beats (samples at ``fs`` Hz)."""

    record: str
    fs: float
    test_samples: np.ndarray  # (m,) detected beats that got a full window
    test_labels: np.ndarray  # (m,) class letters
    ref_samples: np.ndarray  # (n,) reference beats (AAMI classes only)
    ref_labels: np.ndarray  # (n,) AAMI class letters
    edge_skip: tuple[tuple[float, float], ...]  # sample intervals left out of scoring (record edges)


def classify_detected_beats(spec: ModelSpec, model, data_dir: Path, record: str,
                            batch_size: int = 128) -> RecordDetections:
    """Detect the beats of MIT-BIH ``record`` (Pan-Tompkins), classify each, read the reference beats."""
    task = get_task(spec.task)
    rec = mitdb.load_record(data_dir, record)
    rw = signal_windows(task, record, rec.signal, rec.fs, spec.preprocess, rec.lead_names)
    probs = spec.predict(model, rw.named(), batch_size=batch_size)
    _, decided = spec.decide(np.full(len(rw), record), probs)
    labels = np.asarray(spec.classes)[decided.argmax(axis=1)] if len(rw) else np.zeros(0, "<U1")
    half = int(round(spec.window_s * rw.fs)) // 2
    centre_model = np.round(rw.start_s * rw.fs).astype(np.int64) + half
    test = np.round(centre_model * rec.fs / rw.fs).astype(np.int64)
    half_in = spec.window_s / 2 * rec.fs
    n = rec.signal.shape[0]
    skip = ((0.0, half_in), (n - 1 - half_in, float(n)))
    return RecordDetections(record, float(rec.fs), test, labels.astype(str), np.asarray(rec.beat_samples),
                            np.asarray(rec.beat_classes).astype(str), skip)


def score_record(det: RecordDetections, classes: tuple[str, ...]) -> BxbResult:
    """EC57 beat-by-beat comparison of one record's labelled detections with its reference."""
    return bxb(det.ref_samples, det.ref_labels, det.test_samples, det.test_labels, det.fs, classes=classes,
               tolerance_s=TOLERANCE_S, skip=det.edge_skip)


def _summary(stats: dict) -> dict:
    keep = ("S", "V", "qrs", "matched", "missed", "extra", "accuracy", "confusion", "classes")
    return {k: stats[k] for k in keep if k in stats}


def evaluate_end_to_end(run_dir: Path, out_dir: Path, data_dir: Path | None = None,
                        records: list[str] | None = None, model=None) -> dict:
    """Score ``run_dir``'s beat model end to end on ``records`` (default: its test partition).

    Writes ``out_dir/metrics.json`` (``out_dir`` must not be the run folder: the run's own
    ``metrics.json`` is the reference-peak result) with ``end_to_end`` = EC57 gross statistics
    (``S``/``V``: sensitivity, ppv, fpr; ``matched``, ``missed``, ``extra``, ``accuracy`` on matched
    beats, ``qrs`` detection Se/+P, confusion), ``end_to_end_average`` (mean over records) and
    ``per_record``. Returns that dict.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.resolve() == run_dir.resolve():
        raise ValueError(f"--out {out_dir} is the run folder; end-to-end figures go to their own folder")
    cfg = RunConfig.load(run_dir)
    task = get_task(cfg.task)
    if task.prior_kind != "beat" or task.database != "mitdb":
        raise ValueError(f"end-to-end scoring is for the MIT-BIH beat task, not {task.name}")
    spec = ModelSpec.from_run(run_dir)
    data_dir = resolve_data_dir(data_dir or cfg.data_dir)
    ids = list(records) if records else list(load_split(run_dir).test)
    known = set(mitdb.available_records(data_dir, include_paced=True))
    missing = [r for r in ids if r not in known]
    if missing:
        raise DataError(f"records {missing[:10]} are not MIT-BIH records under {data_dir}")
    model = model if model is not None else load_run_model(run_dir)
    results: dict[str, BxbResult] = {}
    for r in progress(ids, desc="end-to-end records", unit="rec"):
        results[r] = score_record(classify_detected_beats(spec, model, data_dir, r), tuple(task.classes))
    metrics = {"task": task.name, "mode": "end_to_end", "records": ids, "n_records": len(ids),
               "rpeaks": "detected (Pan-Tompkins, ecgnet_tf.preprocess.detect_rpeaks)",
               "tolerance_s": TOLERANCE_S, "config": cfg.config, "seed": cfg.seed,
               "class_scale": cfg.class_scale, "class_merge": cfg.class_merge,
               "end_to_end": _summary(gross(results.values())),
               "end_to_end_average": _summary(average(results.values())),
               "per_record": {r: _summary(res.to_dict()) for r, res in results.items()}}
    variant = ds2_variant(task.name, ids, sorted(known))
    if variant:
        metrics["ds2_variant"] = variant
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_json(out_dir / "metrics.json", metrics, indent=2)
    atomic.write_text(out_dir / "report.md", end_to_end_markdown(metrics))
    metrics["out_dir"] = str(out_dir)
    return metrics


def _pct(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f}"


def end_to_end_markdown(m: dict) -> str:
    """The end-to-end report: gross and average EC57 figures and the gross confusion matrix."""
    lines = [f"# End-to-end beat evaluation ({m['task']}, {m['n_records']} records"
             + (f", DS2 {m['ds2_variant']}" if m.get("ds2_variant") else "") + ")", "",
             f"R peaks: {m['rpeaks']}; beats matched to the reference within {1000 * m['tolerance_s']:.0f} ms; "
             "missed and extra beats count as errors (EC57 beat-by-beat).", "",
             "| statistic | SVEB Se | SVEB +P | SVEB FPR | VEB Se | VEB +P | VEB FPR | QRS Se | QRS +P | accuracy |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, key in (("gross", "end_to_end"), ("average", "end_to_end_average")):
        s = m[key]
        lines.append(f"| {name} | " + " | ".join(_pct(s[c][k]) for c in ("S", "V") for k in ("sensitivity", "ppv", "fpr"))
                     + f" | {_pct(s['qrs']['sensitivity'])} | {_pct(s['qrs']['ppv'])} | {_pct(s['accuracy'])} |")
    g = m["end_to_end"]
    lines += ["", f"Matched {g['matched']}, missed {g['missed']}, extra {g['extra']} beats (gross).", "",
              "Confusion (rows reference, columns test; '-' = no beat):", "",
              "| | " + " | ".join(g["classes"]) + " |", "|---" * (len(g["classes"]) + 1) + "|"]
    for label, row in zip(g["classes"], g["confusion"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
