"""Signal-quality indices of every window of a database's records, computed once and cached.

The cache file is keyed by the database, the window geometry and the index definitions
(:data:`SQI_CACHE_FORMAT`); records are read through the project's loaders (raw lead in mV at the
record's own rate: the gate examines the signal as recorded, before any filtering).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import atomic
from ..data import cinc2017, mitdb
from ..data.records import EcgRecord
from ..preprocess.sqi import SQI_NAMES, SqiConfig
from ..progress import progress
from .features import sqi_table

#: part of the cache key: change it when an index's definition changes
SQI_CACHE_FORMAT = "sqi-table/3: " + ",".join(SQI_NAMES)
LOADERS: dict[str, Callable[[Path, str], EcgRecord]] = {
    "cinc2017": lambda d, r: cinc2017.load_record(d, r),
    "mitdb": lambda d, r: mitdb.load_record(d, r),
}


@dataclass(frozen=True)
class SqiTable:
    """Windows of several records: ``record`` (m,) index into ``ids``, ``start_s`` (m,), ``sqis`` (m, S)."""

    ids: tuple[str, ...]
    record: np.ndarray
    start_s: np.ndarray
    sqis: np.ndarray
    fs: dict

    def subset(self, ids: Sequence[str]) -> "SqiTable":
        """The windows of ``ids`` (re-indexed in that order)."""
        pos = {r: i for i, r in enumerate(self.ids)}
        missing = [r for r in ids if r not in pos]
        if missing:
            raise KeyError(f"records not in the table: {missing[:5]}")
        new = np.full(len(self.ids), -1, np.int64)
        for j, r in enumerate(ids):
            new[pos[r]] = j
        keep = new[self.record] >= 0
        return SqiTable(tuple(ids), new[self.record[keep]], self.start_s[keep], self.sqis[keep],
                        {r: self.fs[r] for r in ids})


def _key(database: str, ids: Sequence[str], window_s: float, step_s: float, cfg: SqiConfig) -> str:
    h = hashlib.sha256(repr((SQI_CACHE_FORMAT, database, tuple(ids), window_s, step_s, cfg)).encode())
    return h.hexdigest()[:16]


def database_sqi_table(database: str, data_dir: Path, ids: Sequence[str], cache_dir: Path | None = None,
                       window_s: float = 10.0, step_s: float = 5.0, cfg: SqiConfig = SqiConfig(),
                       signal_fn: Callable[[EcgRecord], np.ndarray] | None = None) -> SqiTable:
    """Indices of every window of ``ids`` (first lead, raw) of ``database``; cached under ``cache_dir``.

    ``signal_fn`` replaces the raw lead (e.g. with noise added); such tables are not cached.
    """
    if database not in LOADERS:
        raise ValueError(f"no SQI loader for {database!r}; choose one of {', '.join(LOADERS)}")
    ids = tuple(ids)
    path = None
    if cache_dir is not None and signal_fn is None:
        path = Path(cache_dir) / f"sqi-{database}-{_key(database, ids, window_s, step_s, cfg)}.npz"
        if path.is_file():
            z = np.load(path, allow_pickle=False)
            return SqiTable(ids, z["record"], z["start_s"], z["sqis"], dict(zip(ids, z["fs"].tolist())))
    recs, starts, rows, fss = [], [], [], []
    for i, r in enumerate(progress(ids, desc=f"quality indices ({database})", unit="rec")):
        rec = LOADERS[database](Path(data_dir), r)
        x = rec.signal[:, 0].astype(np.float64) if signal_fn is None else signal_fn(rec)
        s, t = sqi_table(x, rec.fs, window_s, step_s, cfg)
        recs.append(np.full(s.size, i, np.int64))
        starts.append(s / rec.fs)
        rows.append(t)
        fss.append(rec.fs)
    table = SqiTable(ids, np.concatenate(recs), np.concatenate(starts), np.concatenate(rows),
                     dict(zip(ids, fss)))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, record=table.record, start_s=table.start_s, sqis=table.sqis, fs=np.array(fss))
    return table
