"""Find the record to explain (a record id of the task's database, or any WFDB record path) and cut
its model windows *with their R peaks* through :func:`ecgnet_tf.tasks.signal_windows`, the same
function training uses (``tests/test_explain_windows.py`` checks both give identical windows).

R peaks: the resampled MIT-BIH reference beat annotations for mitdb-aami (``rpeak_source ==
"reference"``); Pan-Tompkins detections on the preprocessed record (lead II for PTB-XL, the single
lead for CinC 2017) otherwise (``"detected"``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import preprocess as pp
from ..data import mitdb, ptbxl
from ..data.errors import DataError
from ..data.records import read_wfdb_signal
from ..tasks import RecordWindows, TaskSpec, catalog, signal_windows, task_record_windows


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
        beats, classes = _wfdb_beats(base, len(sig))
        return signal_windows(task, base.name, sig, fs, cfg, names, beats=beats, beat_classes=classes)
    return signal_windows(task, base.name, sig, fs, cfg, names, rpeak_lead=names.index("II") if "II" in names else 0)


def _wfdb_beats(base: Path, sig_len: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """AAMI beats of ``base.atr`` when it exists (positions checked against the signal length)."""
    atr = base.with_name(base.name + ".atr")
    if not atr.is_file():
        return None, None
    import wfdb

    try:
        ann = wfdb.rdann(str(base), "atr")
    except Exception as exc:  # wfdb raises assorted errors on damaged files
        raise DataError(f"{atr}: unreadable annotation file ({type(exc).__name__}: {exc})") from None
    mitdb.check_annotations(atr, ann.sample, sig_len)
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
