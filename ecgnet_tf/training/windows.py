"""Cut preprocessed records into model windows, once per record, cached on disk.

The cache key is the task, the preprocessing config hash and the record file's identity (path,
size, mtime), so a changed config or a changed file is recomputed and nothing is recomputed per
epoch. Each record gives ECG windows (n, T, C) float32, their prior maps (n, T), labels and a
quality flag per window.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm.auto import tqdm

from .. import preprocess as pp
from ..data import cinc2017, mitdb, ptbxl
from .tasks import TaskRecords, TaskSpec

CACHE_ENV = "ECGNET_CACHE"


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

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: np.ndarray) -> "Windows":
        return Windows(self.x[idx], self.prior[idx], self.y[idx], self.record[idx], self.ok[idx])

    @staticmethod
    def concat(parts: list["Windows"]) -> "Windows":
        return Windows(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("x", "prior", "y", "record", "ok")))


def n_samples(task: TaskSpec, fs: float) -> int:
    """Window length in samples at the model rate."""
    return int(round(task.window_s * fs))


def _encode_label(task: TaskSpec, label) -> np.ndarray:
    if task.multilabel:
        return np.array([c in label for c in task.classes], dtype=np.float32)
    return np.int64(task.classes.index(label))


def _beats(task: TaskSpec, data_dir: Path, record: str, cfg: "pp.PreprocessConfig") -> dict:
    rec = mitdb.load_record(data_dir, record)
    x, fs = pp.preprocess_signal(rec.signal, rec.fs, cfg)
    r = pp.resample_indices(rec.beat_samples, rec.fs, fs)
    w = n_samples(task, fs)
    win, kept = pp.beat_windows(x, r, fs, task.window_s)
    prior = pp.prior_map(np.array([w // 2]), w, fs, task.prior_kind)
    y = np.array([task.classes.index(c) for c in rec.beat_classes[kept]], dtype=np.int64)
    return {"x": win.astype(np.float32), "prior": np.broadcast_to(prior, (len(win), w)).astype(np.float16),
            "y": y, "ok": np.ones(len(win), bool)}


def _segments(task: TaskSpec, signal: np.ndarray, fs_in: float, label, cfg: "pp.PreprocessConfig",
              rpeak_lead: int) -> dict:
    x, fs = pp.preprocess_signal(signal, fs_in, cfg)
    peaks = pp.detect_rpeaks(x, fs, lead=rpeak_lead)
    seg = pp.fixed_segments(x, peaks, fs, task.window_s, task.segment_overlap)
    w = n_samples(task, fs)
    priors = np.stack([pp.prior_map(r, w, fs, task.prior_kind) for r in seg.rpeaks]).astype(np.float16)
    ok = np.array([pp.assess_quality(s, fs, r).ok for s, r in zip(seg.windows, seg.rpeaks)], dtype=bool)
    y = np.stack([_encode_label(task, label)] * len(seg.windows))
    return {"x": seg.windows.astype(np.float32), "prior": priors, "y": y, "ok": ok}


def record_windows(task: TaskSpec, data_dir: Path, record: str, label, entry, cfg: "pp.PreprocessConfig") -> dict:
    """Compute the windows of one record (no cache)."""
    if task.database == "mitdb":
        return _beats(task, data_dir, record, cfg)
    if task.database == "ptbxl":
        rec = ptbxl.load_record(data_dir, entry)
        return _segments(task, rec.signal, rec.fs, label, cfg, rpeak_lead=ptbxl.LEADS.index("II"))
    rec = cinc2017.load_record(data_dir, record, label)
    return _segments(task, rec.signal, rec.fs, label, cfg, rpeak_lead=0)


def _record_file(task: TaskSpec, data_dir: Path, record: str, entry) -> Path:
    if task.database == "mitdb":
        return Path(data_dir) / "mitdb" / f"{record}.hea"
    if task.database == "ptbxl":
        return Path(data_dir) / "ptbxl" / f"{entry.filename}.hea"
    return Path(data_dir) / "cinc2017" / "training2017" / f"{record}.hea"


def _cache_path(cache_dir: Path, task: TaskSpec, cfg_hash: str, data_dir: Path, record: str, entry) -> Path:
    f = _record_file(task, data_dir, record, entry).resolve()
    st = f.stat()
    ident = hashlib.sha256(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:10]
    return cache_dir / task.name / cfg_hash / f"{record}-{ident}.npz"


def load_windows(
    records: TaskRecords,
    data_dir: Path,
    ids: Iterable[str],
    cfg: "pp.PreprocessConfig",
    cache_dir: Path | None = None,
    max_per_record: int | None = None,
    seed: int = 0,
    desc: str = "windows",
) -> Windows:
    """Windows of the records ``ids``, from the cache or computed (and cached) once.

    ``max_per_record`` keeps a seeded subset per record (quick runs); for beat tasks the subset
    keeps every beat of the rarer classes first, so quick runs still see them.
    """
    cache_dir = Path(cache_dir or default_cache_dir())
    cfg_hash = pp.config_hash(cfg)
    task = records.task
    parts = []
    rng = np.random.default_rng(seed)
    for rid in tqdm(list(ids), desc=desc, unit="rec", leave=False, disable=None):
        entry = records.entry_of.get(rid)
        path = _cache_path(cache_dir, task, cfg_hash, data_dir, rid, entry)
        if path.is_file():
            with np.load(path) as z:
                arr = {k: z[k] for k in ("x", "prior", "y", "ok")}
        else:
            arr = record_windows(task, data_dir, rid, records.label_of[rid], entry, cfg)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **arr)
            tmp.replace(path)
        n = len(arr["x"])
        idx = np.arange(n)
        if max_per_record is not None and n > max_per_record:
            idx = _subset(arr["y"], max_per_record, rng, task.multilabel)
        parts.append(Windows(arr["x"][idx], arr["prior"][idx].astype(np.float32), arr["y"][idx],
                             np.full(len(idx), rid, dtype=object), arr["ok"][idx]))
    if not parts:
        raise ValueError(f"{task.name}: no records to cut into windows")
    return Windows.concat(parts)


def _subset(y: np.ndarray, k: int, rng: np.random.Generator, multilabel: bool) -> np.ndarray:
    if multilabel or y.ndim > 1:
        return np.sort(rng.choice(len(y), k, replace=False))
    classes, counts = np.unique(y, return_counts=True)
    order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in classes[np.argsort(counts)]])
    return np.sort(order[:k])
