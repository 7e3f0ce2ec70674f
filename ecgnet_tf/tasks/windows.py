"""Records of a task cut into model windows (via :mod:`.inputs`), once per record, cached on disk.

The cache key is the task, the preprocessing config hash, the record's label and the identity (path,
size, mtime) of every file of the record (header, signal files, annotations), so a changed config,
label or file is recomputed (and a damaged file then refused by the loader) and nothing is
recomputed per epoch. Each record gives ECG windows (n, T, C) float32, their prior maps (n, T), labels, a
quality flag per window and the "rr" rows (beat RR-interval features or segment rhythm features); beat
tasks also get the "morph" rows (beat-template features), computed from the cached windows when loaded.
:func:`iter_windows` yields them record by record (bounded memory); :func:`load_windows` joins them.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .. import atomic
from .. import preprocess as pp
from ..progress import progress
from ..data import cinc2017, mitdb, ptbxl
from ..data.errors import DataError
from .inputs import beat_inputs, beat_morph, is_beat_layout, segment_inputs, window_samples
from .records import TaskRecords, catalog
from .spec import TaskSpec

CACHE_ENV = "ECGNET_CACHE"
#: what a cache file holds; part of the key, so files of an older layout are recomputed, never misread
CACHE_FORMAT = "windows/3: x prior y ok rr (segment rr = rhythm features)"
_CACHED = ("x", "prior", "y", "ok", "rr")
#: beat tasks' files: their "rr" rows gained the recent-rhythm context columns (tasks.inputs.BEAT_RR_NAMES)
BEAT_CACHE_FORMAT = CACHE_FORMAT + "; beat rr = RR features + rr context"


def cache_format(task: TaskSpec) -> str:
    """What a cache file of ``task`` holds (part of its key)."""
    return BEAT_CACHE_FORMAT if is_beat_layout(task) else CACHE_FORMAT


def default_cache_dir() -> Path:
    """``$ECGNET_CACHE``, else ``~/.cache/ecgnet`` (the data folder may be read-only)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ecgnet")


@dataclass
class Windows:
    """Windows of one partition (or record): inputs, labels and bookkeeping."""

    x: np.ndarray  # (n, T, C) float32, preprocessed, not yet z-scored
    prior: np.ndarray  # (n, T) float32 in 0..1
    y: np.ndarray  # (n,) int64 class index, or (n, K) float32 multi-hot
    record: np.ndarray  # (n,) record id of each window
    ok: np.ndarray  # (n,) bool, window passed the quality gate
    rr: np.ndarray  # (n, F) float32 "rr" rows: beat RR-interval features, or segment rhythm features
    morph: np.ndarray  # (n, M) float32 beat-template features (beat tasks), (n, 0) for segment tasks

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: np.ndarray) -> "Windows":
        return Windows(self.x[idx], self.prior[idx], self.y[idx], self.record[idx], self.ok[idx], self.rr[idx],
                       self.morph[idx])

    def named(self) -> dict[str, np.ndarray]:
        """The named model inputs, not yet prepared (see :meth:`ecgnet_tf.runs.ModelSpec.prepare`)."""
        return {"ecg": self.x, "prior": self.prior, **({"rr": self.rr} if self.rr.shape[1] else {}),
                **({"morph": self.morph} if self.morph.shape[1] else {})}

    @staticmethod
    def concat(parts: list["Windows"]) -> "Windows":
        return Windows(*(np.concatenate([getattr(p, f) for p in parts])
                         for f in ("x", "prior", "y", "record", "ok", "rr", "morph")))


def n_samples(task: TaskSpec, fs: float) -> int:
    """Window length in samples at the model rate."""
    return window_samples(task, fs)


def encode_labels(task: TaskSpec, label, n: int) -> np.ndarray:
    """``n`` copies of a record label: (n,) int64 class index (-1 unknown) or (n, K) float32 multi-hot."""
    if task.multilabel:
        row = np.zeros(len(task.classes), np.float32) if label is None else \
            np.array([c in label for c in task.classes], dtype=np.float32)
        return np.tile(row, (n, 1))
    return np.full(n, -1 if label is None else task.classes.index(label), dtype=np.int64)


@dataclass
class RecordWindows:
    """Windows of one record, not z-scored, with their R peaks and bookkeeping.

    x: (n, T, C) float32 mV. prior: (n, T) float32 0..1 (float16 precision, as the cache stores).
    y: (n,) int64 class index (-1 unknown) or (n, K) float32 multi-hot. ok: (n,) quality flag.
    rpeaks: n int64 arrays, R peaks relative to the window start (samples). start_s: (n,) window
    start in the record (s). beat_class: (n,) class letter of the centre beat (beat tasks) or "".
    rpeak_source: "reference" (annotated beats) or "detected" (Pan-Tompkins). rr: (n, F) float32 "rr"
    rows (see :func:`~ecgnet_tf.tasks.inputs.rr_feature_names`): the centre beat's RR-interval features
    (beat tasks) or the window's rhythm features (segment tasks).
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
    rr: np.ndarray
    morph: np.ndarray | None = None  # (n, M) beat-template features (beat tasks), else None

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: np.ndarray) -> "RecordWindows":
        idx = np.asarray(idx, dtype=np.int64)
        return RecordWindows(self.record, self.fs, self.lead_names, self.x[idx], self.prior[idx], self.y[idx],
                             self.ok[idx], [self.rpeaks[i] for i in idx], self.start_s[idx], self.rpeak_source,
                             self.beat_class[idx], self.rr[idx], None if self.morph is None else self.morph[idx])

    def named(self) -> dict[str, np.ndarray]:
        """The named model inputs, not yet prepared (see :meth:`ecgnet_tf.runs.ModelSpec.prepare`)."""
        return {"ecg": self.x, "prior": self.prior, **({"rr": self.rr} if self.rr.shape[1] else {}),
                **({} if self.morph is None else {"morph": self.morph})}


def signal_windows(task: TaskSpec, record: str, signal: np.ndarray, fs_in: float, cfg: "pp.PreprocessConfig",
                   lead_names: tuple[str, ...], label=None, beats: np.ndarray | None = None,
                   beat_classes: np.ndarray | None = None, rpeak_lead: int = 0) -> RecordWindows:
    """Preprocess a raw record (``signal`` (n, C) mV at ``fs_in`` Hz) and cut the task's model inputs.

    Beat tasks centre windows on ``beats`` (samples at ``fs_in``, e.g. reference annotations, with
    their ``beat_classes``) or, when None, on R peaks detected on ``rpeak_lead``. Segment tasks use
    detected R peaks and the record ``label`` (None = unknown).
    """
    x, fs = pp.preprocess_signal(signal, fs_in, cfg)
    if is_beat_layout(task):
        if beats is None:
            r, source = pp.detect_rpeaks(x, fs, lead=rpeak_lead), "detected"
        else:
            r, source = pp.resample_indices(np.asarray(beats, dtype=np.int64), fs_in, fs), "reference"
        m = beat_inputs(task, x, fs, r)
        if beat_classes is not None and beats is not None:
            cls = np.asarray(beat_classes)[m.kept].astype(str)
            y = np.array([task.classes.index(c) if c in task.classes else -1 for c in cls], dtype=np.int64)
        else:
            cls, y = np.full(len(m), "", dtype="<U1"), np.full(len(m), -1, dtype=np.int64)
    else:
        m = segment_inputs(task, x, fs, pp.detect_rpeaks(x, fs, lead=rpeak_lead))
        source, cls, y = "detected", np.full(len(m), "", dtype="<U1"), encode_labels(task, label, len(m))
    rr = m.rr if m.rr is not None else np.zeros((len(m), 0), np.float32)
    return RecordWindows(record, fs, tuple(lead_names), m.x, m.prior, y, m.ok, m.rpeaks, m.starts / fs, source, cls,
                         rr, m.morph)


def task_record_windows(task: TaskSpec, data_dir: Path, record: str, cfg: "pp.PreprocessConfig",
                        label=None, entry=None) -> RecordWindows:
    """Windows of one record of ``task`` under ``data_dir`` (labels from the database)."""
    if task.database == "mitdb":
        rec = mitdb.load_record(data_dir, record)
        return signal_windows(task, record, rec.signal, rec.fs, cfg, rec.lead_names, beats=rec.beat_samples,
                              beat_classes=rec.beat_classes)
    if task.database == "ptbxl":
        if entry is None:
            cat = catalog(task, data_dir)
            if record not in cat.entry_of:
                raise DataError(f"{record!r} is not a {task.name} record under {data_dir}")
            entry, label = cat.entry_of[record], cat.label_of[record]
        rec = ptbxl.load_record(data_dir, entry)
        return signal_windows(task, record, rec.signal, rec.fs, cfg, rec.lead_names, label=label,
                              rpeak_lead=ptbxl.LEADS.index("II"))
    rec = cinc2017.load_record(data_dir, record, label)
    return signal_windows(task, record, rec.signal, rec.fs, cfg, ("ECG",), label=rec.label)


def record_windows(task: TaskSpec, data_dir: Path, record: str, label, entry, cfg: "pp.PreprocessConfig") -> dict:
    """The cached arrays of one record's windows (no cache): x, prior (float16), y, ok, rr."""
    rw = task_record_windows(task, data_dir, record, cfg, label, entry)
    return {"x": rw.x, "prior": rw.prior.astype(np.float16), "y": rw.y, "ok": rw.ok, "rr": rw.rr}


def _record_base(task: TaskSpec, data_dir: Path, record: str, entry) -> Path:
    if task.database == "mitdb":
        return Path(data_dir) / "mitdb" / record
    if task.database == "ptbxl":
        return Path(data_dir) / "ptbxl" / entry.filename
    return Path(data_dir) / "cinc2017" / "training2017" / record


def _header_files(hea: Path) -> list[str]:
    """Signal file names a WFDB header names (first field of each signal line); [] if unreadable."""
    try:
        lines = [ln.strip() for ln in hea.read_text(errors="replace").splitlines()]
    except OSError:
        return []
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    return [ln.split()[0] for ln in lines[1:] if ln.split()]


def _record_files(task: TaskSpec, data_dir: Path, record: str, entry) -> list[Path]:
    """Every file a record's windows depend on: the header, the signal files it names (and any
    ``.dat`` / ``.mat`` beside it) and, for MIT-BIH, the ``.atr`` annotations."""
    base = _record_base(task, data_dir, record, entry)
    hea = base.with_name(base.name + ".hea")
    names = {hea.name, *(Path(n).name for n in _header_files(hea))}
    names |= {base.name + ext for ext in (".dat", ".mat") if base.with_name(base.name + ext).is_file()}
    if task.database == "mitdb":
        names.add(base.name + ".atr")
    return [base.with_name(n) for n in sorted(names)]


def _record_file(task: TaskSpec, data_dir: Path, record: str, entry) -> Path:
    """The record's header (kept for callers that want one path; the cache key uses all files)."""
    base = _record_base(task, data_dir, record, entry)
    return base.with_name(base.name + ".hea")


def _cache_path(cache_dir: Path, task: TaskSpec, cfg_hash: str, data_dir: Path, record: str, entry,
                label=None, fmt: str = CACHE_FORMAT, prefix: str = "") -> Path:
    """Cache file of a record's windows: keyed by task, preprocessing hash, and path, size and mtime of
    every file of the record (a truncated ``.dat`` or edited ``.atr`` is recomputed, and so fails the
    loader's checks instead of being served from the cache). PTB-XL entries' labels and ``label``
    (when given) are part of the key too, so a relabelled record is recomputed."""
    parts = [fmt]
    for f in _record_files(task, data_dir, record, entry):
        f = f.resolve()
        try:
            st = f.stat()
            parts.append(f"{f}|{st.st_size}|{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{f}|missing")
    if entry is not None:
        parts.append(f"{entry.filename}|{sorted(entry.superclasses)}|{sorted(entry.subclasses)}")
    if label is not None:
        parts.append(f"label={label!r}")
    ident = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]
    return cache_dir / task.name / cfg_hash / f"{prefix}{record}-{ident}.npz"


def iter_windows(
    records: TaskRecords,
    data_dir: Path,
    ids: Iterable[str],
    cfg: "pp.PreprocessConfig",
    cache_dir: Path | None = None,
    max_per_record: int | None = None,
    seed: int = 0,
    desc: str = "windows",
    morph: bool = True,
) -> Iterator[Windows]:
    """The windows of each record of ``ids`` in turn (from the cache or computed and cached once),
    with progress; memory holds one record at a time. Arguments as :func:`load_windows`."""
    cache_dir = Path(cache_dir or default_cache_dir())
    cfg_hash = pp.config_hash(cfg)
    task = records.task
    rng = np.random.default_rng(seed)
    for rid in progress(list(ids), desc=desc, unit="records"):
        entry = records.entry_of.get(rid)
        path = _cache_path(cache_dir, task, cfg_hash, data_dir, rid, entry, label=records.label_of[rid],
                           fmt=cache_format(task))
        if path.is_file():
            with np.load(path) as z:
                arr = {k: z[k] for k in _CACHED}
        else:
            arr = record_windows(task, data_dir, rid, records.label_of[rid], entry, cfg)
            with atomic.atomic_path(path) as tmp:  # unique temporary name: concurrent runs may share a cache
                np.savez(tmp, **arr)
        n = len(arr["x"])
        # beat-template rows from the whole record's windows in beat order (before any subset): not
        # cached, computed by the same function beat_inputs uses
        rows = (beat_morph(arr["x"], cfg.fs_out) if morph and is_beat_layout(task)
                else np.zeros((n, 0), np.float32))
        idx = np.arange(n)
        if max_per_record is not None and n > max_per_record:
            idx = _subset(arr["y"], max_per_record, rng, task.multilabel)
        yield Windows(arr["x"][idx], arr["prior"][idx].astype(np.float32), arr["y"][idx],
                      np.full(len(idx), rid, dtype=object), arr["ok"][idx], arr["rr"][idx], rows[idx])


def load_windows(
    records: TaskRecords,
    data_dir: Path,
    ids: Iterable[str],
    cfg: "pp.PreprocessConfig",
    cache_dir: Path | None = None,
    max_per_record: int | None = None,
    seed: int = 0,
    desc: str = "windows",
    morph: bool = True,
) -> Windows:
    """Windows of the records ``ids``, from the cache or computed (and cached) once.

    ``max_per_record`` keeps a seeded subset per record (quick runs); for beat tasks the subset
    keeps every beat of the rarer classes first, so quick runs still see them. ``morph=False`` skips
    the beat-template rows (``morph`` then has 0 columns) for models without that input: they cost
    about as much as reading the cache.
    """
    parts = list(iter_windows(records, data_dir, ids, cfg, cache_dir, max_per_record, seed, desc, morph))
    if not parts:
        raise ValueError(f"{records.task.name}: no records to cut into windows")
    return Windows.concat(parts)


def _subset(y: np.ndarray, k: int, rng: np.random.Generator, multilabel: bool) -> np.ndarray:
    if multilabel or y.ndim > 1:
        return np.sort(rng.choice(len(y), k, replace=False))
    classes, counts = np.unique(y, return_counts=True)
    order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in classes[np.argsort(counts)]])
    return np.sort(order[:k])
