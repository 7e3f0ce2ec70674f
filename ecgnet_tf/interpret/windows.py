"""Model windows of one record *with their R peaks*, cut exactly as training cuts them.

:func:`ecgnet_tf.training.windows.record_windows` (training) keeps the windows, priors, labels and
quality flags but not the R peaks, which the zone attribution needs; this module repeats the same
calls in the same order (preprocess -> R peaks -> windows -> prior maps, stored as float16 like the
training cache) and keeps the R peaks. ``tests/test_explain_windows.py`` checks that both give
identical windows and priors.

R peaks: the resampled MIT-BIH reference beat annotations for mitdb-aami (``rpeak_source ==
"reference"``); Pan-Tompkins detections on the preprocessed record (lead II for PTB-XL, the single
lead for CinC 2017) otherwise (``"detected"``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import preprocess as pp
from ..data import cinc2017, mitdb, ptbxl
from ..data.errors import DataError
from ..data.records import read_wfdb_signal
from ..training.tasks import TaskSpec, catalog
from ..training.windows import n_samples as window_samples


@dataclass
class RecordWindows:
    """Windows of one record, not z-scored, with R peaks and bookkeeping.

    x: (n, T, C) float32 mV. prior: (n, T) float32 0..1 (via float16, as the training cache).
    y: (n,) int64 class index (-1 unknown) or (n, K) float32 multi-hot. ok: (n,) quality flag.
    rpeaks: n int64 arrays, R peaks relative to the window start (samples). start_s: (n,) window
    start in the record (s). beat_class: (n,) class letter of the centre beat (beat tasks) or "".
    """

    record: str
    fs: float
    lead_names: tuple[str, ...]
    x: np.ndarray
    prior: np.ndarray
    y: np.ndarray
    ok: np.ndarray
    rpeaks: list[np.ndarray]
    start_s: np.ndarray
    rpeak_source: str
    beat_class: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: np.ndarray) -> "RecordWindows":
        idx = np.asarray(idx, dtype=np.int64)
        return RecordWindows(self.record, self.fs, self.lead_names, self.x[idx], self.prior[idx], self.y[idx],
                             self.ok[idx], [self.rpeaks[i] for i in idx], self.start_s[idx], self.rpeak_source,
                             self.beat_class[idx])


def _f16(prior: np.ndarray) -> np.ndarray:
    return np.asarray(prior).astype(np.float16).astype(np.float32)


def beat_record_windows(task: TaskSpec, record: str, signal: np.ndarray, fs_in: float, beats: np.ndarray,
                        beat_classes: np.ndarray | None, cfg: pp.PreprocessConfig,
                        lead_names: tuple[str, ...]) -> RecordWindows:
    """Beat windows centred on the (reference) beats ``beats`` (samples at ``fs_in``), as training."""
    x, fs = pp.preprocess_signal(signal, fs_in, cfg)
    r = pp.resample_indices(np.asarray(beats, dtype=np.int64), fs_in, fs)
    w = window_samples(task, fs)
    win, kept = pp.beat_windows(x, r, fs, task.window_s)
    prior = _f16(pp.prior_map(np.array([w // 2]), w, fs, task.prior_kind))
    starts = r[kept] - w // 2
    rel = [r[(r >= s) & (r < s + w)] - s for s in starts]
    if beat_classes is not None:
        cls = np.asarray(beat_classes)[kept].astype(str)
        y = np.array([task.classes.index(c) if c in task.classes else -1 for c in cls], dtype=np.int64)
    else:
        cls = np.full(len(kept), "", dtype="<U1")
        y = np.full(len(kept), -1, dtype=np.int64)
    return RecordWindows(record, fs, lead_names, win.astype(np.float32),
                         np.broadcast_to(prior, (len(win), w)).copy(), y, np.ones(len(win), bool), rel,
                         starts / fs, "reference" if beat_classes is not None else "detected", cls)


def segment_record_windows(task: TaskSpec, record: str, signal: np.ndarray, fs_in: float, label,
                           cfg: pp.PreprocessConfig, rpeak_lead: int, lead_names: tuple[str, ...]) -> RecordWindows:
    """Fixed (overlapping) segments with detected R peaks, as training; ``label`` None = unknown."""
    x, fs = pp.preprocess_signal(signal, fs_in, cfg)
    peaks = pp.detect_rpeaks(x, fs, lead=rpeak_lead)
    seg = pp.fixed_segments(x, peaks, fs, task.window_s, task.segment_overlap)
    w = window_samples(task, fs)
    priors = np.stack([_f16(pp.prior_map(r, w, fs, task.prior_kind)) for r in seg.rpeaks])
    ok = np.array([pp.assess_quality(s, fs, r).ok for s, r in zip(seg.windows, seg.rpeaks)], dtype=bool)
    n = len(seg.windows)
    if label is None:
        y = np.full((n, len(task.classes)), 0.0, np.float32) if task.multilabel else np.full(n, -1, np.int64)
    elif task.multilabel:
        y = np.tile(np.array([c in label for c in task.classes], dtype=np.float32), (n, 1))
    else:
        y = np.full(n, task.classes.index(label), dtype=np.int64)
    return RecordWindows(record, fs, lead_names, seg.windows.astype(np.float32), priors, y, ok,
                         [np.asarray(r, np.int64) for r in seg.rpeaks], seg.starts / fs, "detected",
                         np.full(n, "", dtype="<U1"))


def task_record_windows(task: TaskSpec, data_dir: Path, record: str, cfg: pp.PreprocessConfig,
                        label=None, entry=None) -> RecordWindows:
    """Windows of one record of ``task`` under ``data_dir`` (labels from the database)."""
    if task.database == "mitdb":
        rec = mitdb.load_record(data_dir, record)
        return beat_record_windows(task, record, rec.signal, rec.fs, rec.beat_samples, rec.beat_classes, cfg,
                                   rec.lead_names)
    if task.database == "ptbxl":
        if entry is None:
            cat = catalog(task, data_dir)
            if record not in cat.entry_of:
                raise DataError(f"{record!r} is not a {task.name} record under {data_dir}")
            entry, label = cat.entry_of[record], cat.label_of[record]
        rec = ptbxl.load_record(data_dir, entry)
        return segment_record_windows(task, record, rec.signal, rec.fs, label, cfg, ptbxl.LEADS.index("II"),
                                      rec.lead_names)
    rec = cinc2017.load_record(data_dir, record, label)
    return segment_record_windows(task, record, rec.signal, rec.fs, rec.label, cfg, 0, ("ECG",))


def path_record_windows(task: TaskSpec, path: Path, cfg: pp.PreprocessConfig) -> RecordWindows:
    """Windows of an arbitrary WFDB record (``path`` without extension) for ``task``; labels unknown.

    12-lead tasks read the standard leads by name; single-lead tasks read MLII when present, else
    the first channel. A beat task uses the record's ``.atr`` beats when they exist, else detected
    R peaks.
    """
    base = Path(str(path).removesuffix(".hea"))
    if task.n_leads == len(ptbxl.LEADS):
        sig, fs, names = read_wfdb_signal(base, leads=ptbxl.LEADS)
    else:
        sig, fs, names = read_wfdb_signal(base)
        i = names.index("MLII") if "MLII" in names else 0
        sig, names = sig[:, i:i + 1], (names[i],)
    if task.database == "mitdb":
        beats, classes = _wfdb_beats(base)
        if beats is None:
            x, fs_out = pp.preprocess_signal(sig, fs, cfg)
            beats = pp.resample_indices(pp.detect_rpeaks(x, fs_out), fs_out, fs)
        return beat_record_windows(task, base.name, sig, fs, beats, classes, cfg, names)
    return segment_record_windows(task, base.name, sig, fs, None, cfg, names.index("II") if "II" in names else 0,
                                  names)


def _wfdb_beats(base: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not base.with_suffix(".atr").is_file():
        return None, None
    import wfdb

    ann = wfdb.rdann(str(base), "atr")
    sym = np.asarray(ann.symbol, dtype=object)
    keep = np.array([s in mitdb.AAMI_MAP for s in sym], dtype=bool)
    if not keep.any():
        return None, None
    return np.asarray(ann.sample, np.int64)[keep], np.array([mitdb.AAMI_MAP[s] for s in sym[keep]])


def resolve_record(ref: str, task: TaskSpec, data_dir: Path | None) -> tuple[Path | None, str]:
    """Interpret ``ref``: a record id of ``task`` under ``data_dir`` -> ``(data_dir, id)``; a path to a
    WFDB record -> ``(data_dir, id)`` when it lies in the task's database layout, else ``(None, path)``."""
    p = Path(str(ref).removesuffix(".hea"))
    if p.with_name(p.name + ".hea").is_file():
        parts = p.resolve().parts
        db = {"mitdb": "mitdb", "ptbxl": "ptbxl", "cinc2017": "cinc2017"}[task.database]
        if db in parts:
            root = Path(*parts[:len(parts) - 1 - parts[::-1].index(db)])
            if task.database == "mitdb" and p.name in mitdb.RECORDS and p.parent.name == "mitdb":
                return root, p.name
            if task.database == "cinc2017" and p.parent.name == "training2017":
                return root, p.name
            if task.database == "ptbxl":
                try:
                    if p.name in catalog(task, root).label_of:
                        return root, p.name
                except (DataError, OSError, ValueError):
                    pass
        return None, str(p)
    if data_dir is None:
        raise DataError(f"{ref!r} is not a WFDB record path and no data dir is known")
    return Path(data_dir), str(ref)


def load_record_windows(task: TaskSpec, ref: str, data_dir: Path | None, cfg: pp.PreprocessConfig) -> RecordWindows:
    """Windows of ``ref`` (record id under ``data_dir`` or WFDB path), see :func:`resolve_record`."""
    root, rid = resolve_record(ref, task, data_dir)
    if root is None:
        return path_record_windows(task, Path(rid), cfg)
    return task_record_windows(task, root, rid, cfg)
