"""Median-beat features (:func:`~ecgnet_tf.preprocess.ecg12_features.ecg12_features`) of a 12-lead
task's records, computed once per record and cached next to the window cache (same key: preprocessing
hash, record files, labels)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from .. import preprocess as pp
from ..data import ptbxl
from ..preprocess.ecg12_features import ECG12_FEATURE_NAMES, Ecg12FeatureConfig, ecg12_features, reference_rpeaks
from ..progress import progress
from .record_table import cached_row
from .records import TaskRecords
from .windows import _cache_path, default_cache_dir

#: part of the cache key: a change of the features' definition must change this string
ECG12_CACHE_FORMAT = f"ecg12-features/1: {len(ECG12_FEATURE_NAMES)} " + ",".join(ECG12_FEATURE_NAMES)


def signal_ecg12_features(signal: np.ndarray, fs_in: float, cfg: "pp.PreprocessConfig",
                          config: Ecg12FeatureConfig = Ecg12FeatureConfig()) -> np.ndarray:
    """Median-beat features of a raw 12-lead recording (``signal`` (n, 12) mV at ``fs_in`` Hz): the
    project's preprocessing, R peaks on a reference lead, then the features. (F,) float32."""
    x, fs = pp.preprocess_signal(signal, fs_in, cfg)
    return ecg12_features(x, reference_rpeaks(x, fs), fs, config)


def ecg12_feature_table(records: TaskRecords, data_dir: Path, ids: Iterable[str], cfg: "pp.PreprocessConfig",
                        cache_dir: Path | None = None, sampling_rate: int = 100,
                        desc: str = "median-beat features") -> np.ndarray:
    """(n, F) float32 median-beat features of ``ids`` (in that order), each record cached once.

    Only PTB-XL tasks are supported (the features describe the standard 12 leads)."""
    task = records.task
    if task.database != "ptbxl":
        raise ValueError(f"median-beat 12-lead features are defined for PTB-XL records, not task {task.name!r}")
    cache_dir = Path(cache_dir or default_cache_dir())
    cfg_hash = pp.config_hash(cfg)
    rows = []
    for rid in progress(list(ids), desc=desc, unit="records"):
        entry = records.entry_of[rid]
        path = _cache_path(cache_dir, task, cfg_hash, data_dir, rid, entry, fmt=ECG12_CACHE_FORMAT,
                           prefix=f"ecg12-{sampling_rate}-")

        def compute(entry=entry) -> np.ndarray:
            rec = ptbxl.load_record(data_dir, entry, sampling_rate)
            return signal_ecg12_features(rec.signal, rec.fs, cfg)

        rows.append(cached_row(path, compute))
    return np.stack(rows) if rows else np.zeros((0, len(ECG12_FEATURE_NAMES)), np.float32)
