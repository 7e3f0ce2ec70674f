"""Whole-record features of a single-lead task's records (:func:`~ecgnet_tf.preprocess.record_features.record_features`),
computed once per record and cached next to the window cache (same key: preprocessing hash, record
files, label)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .. import atomic
from .. import preprocess as pp
from ..data import cinc2017
from ..preprocess.record_features import RECORD_FEATURE_NAMES, RecordFeatureConfig, record_features
from ..progress import progress
from .records import TaskRecords
from .windows import _cache_path, default_cache_dir, iter_windows

#: part of the cache key: a change of the features' definition must change this string
RECORD_CACHE_FORMAT = f"record-features/1: {len(RECORD_FEATURE_NAMES)} " + ",".join(RECORD_FEATURE_NAMES)


def preprocessed_lead(signal: np.ndarray, fs_in: float, cfg: "pp.PreprocessConfig"
                      ) -> tuple[np.ndarray, float, np.ndarray]:
    """The first lead of a raw recording (``signal`` (n,) or (n, C) mV at ``fs_in`` Hz) after the
    project's preprocessing, (x (m,) mV, its rate in Hz, Pan-Tompkins R peaks over the whole record)."""
    sig = np.asarray(signal, np.float64)
    if sig.ndim == 1:
        sig = sig[:, None]
    x, fs = pp.preprocess_signal(sig[:, :1], fs_in, cfg)
    return x[:, 0], fs, pp.detect_rpeaks(x, fs, lead=0)


def signal_record_features(signal: np.ndarray, fs_in: float, cfg: "pp.PreprocessConfig",
                           config: RecordFeatureConfig = RecordFeatureConfig()) -> np.ndarray:
    """Record features of a raw single-lead recording (``signal`` (n,) or (n, 1) mV at ``fs_in`` Hz):
    :func:`preprocessed_lead`, then :func:`~ecgnet_tf.preprocess.record_features.record_features`.
    (F,) float32."""
    x, fs, peaks = preprocessed_lead(signal, fs_in, cfg)
    return record_features(x, peaks, fs, config)


def cached_row(path: Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The feature row saved at ``path`` (an ``.npz`` with ``features``), computed and saved first
    when missing."""
    if path.is_file():
        with np.load(path) as z:
            return z["features"]
    row = compute()
    with atomic.atomic_path(path) as tmp:
        np.savez(tmp, features=row)
    return row


def record_feature_table(records: TaskRecords, data_dir: Path, ids: Iterable[str], cfg: "pp.PreprocessConfig",
                         cache_dir: Path | None = None, desc: str = "record features") -> np.ndarray:
    """(n, F) float32 record features of ``ids`` (in that order), each record cached once.

    Only single-lead CinC 2017 style tasks are supported (the features describe one lead).
    """
    task = records.task
    if task.database != "cinc2017":
        raise ValueError(f"record features are defined for single-lead CinC 2017 records, not task {task.name!r}")
    cache_dir = Path(cache_dir or default_cache_dir())
    cfg_hash = pp.config_hash(cfg)
    rows = []
    for rid in progress(list(ids), desc=desc, unit="records"):
        path = _cache_path(cache_dir, task, cfg_hash, data_dir, rid, records.entry_of.get(rid),
                           label=records.label_of[rid], fmt=RECORD_CACHE_FORMAT, prefix="recfeat-")
        def compute(rid: str = rid) -> np.ndarray:
            rec = cinc2017.load_record(data_dir, rid, records.label_of[rid])
            return signal_record_features(rec.signal, rec.fs, cfg)

        rows.append(cached_row(path, compute))
    return np.stack(rows) if rows else np.zeros((0, len(RECORD_FEATURE_NAMES)), np.float32)


def window_rr_rows(records: TaskRecords, data_dir: Path, ids: Iterable[str], cfg: "pp.PreprocessConfig",
                   cache_dir: Path | None = None, desc: str = "window rhythm rows", max_per_record: int | None = None,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(record id of each window (n,), its "rr" row (n, F)) for the windows of ``ids`` (window cache;
    ``max_per_record`` and ``seed`` pick the same subset as an evaluation with those settings)."""
    rec, rows = [], []
    for w in iter_windows(records, data_dir, ids, cfg, cache_dir=cache_dir, max_per_record=max_per_record, seed=seed,
                          desc=desc):
        rec.append(np.asarray(w.record).astype(str))
        rows.append(w.rr)
    if not rows:
        return np.zeros(0, dtype=str), np.zeros((0, 0), np.float32)
    return np.concatenate(rec), np.concatenate(rows)
