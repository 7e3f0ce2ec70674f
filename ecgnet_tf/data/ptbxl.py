"""PTB-XL loader (12-lead, 10-s records at 100 Hz or 500 Hz) with MI labels.

Labels use the standard PTB-XL aggregation: every ``scp_codes`` key that is diagnostic in
``scp_statements.csv`` and whose likelihood is at least ``min_likelihood`` contributes its
``diagnostic_class`` (superclass) and ``diagnostic_subclass``. Groups: ``MI`` (any MI code),
``NORM`` (superclass set exactly {NORM}) and ``OTHER`` (everything else). MI localisation uses the
subclasses AMI / IMI / LMI / PMI (a record may carry several).

The shared copy holds only a subset of the records: loaders use what exists and report counts.
"""
from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, MissingDatabaseError
from .records import EcgRecord, read_wfdb_signal

LEADS: tuple[str, ...] = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
MI_SUBCLASSES: tuple[str, ...] = ("AMI", "IMI", "LMI", "PMI")
TRAIN_FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS: tuple[int, ...] = (9,)
TEST_FOLDS: tuple[int, ...] = (10,)


@dataclass(frozen=True)
class PtbxlEntry:
    """One row of ``ptbxl_database.csv`` with its derived labels."""

    ecg_id: int
    patient_id: str
    strat_fold: int
    filename: str  # relative record path without extension, at the chosen sampling rate
    superclasses: frozenset[str]
    subclasses: frozenset[str]

    @property
    def record_id(self) -> str:
        return Path(self.filename).name

    @property
    def group(self) -> str:
        """``MI``, ``NORM`` (pure normal) or ``OTHER``."""
        if "MI" in self.superclasses:
            return "MI"
        if self.superclasses == frozenset({"NORM"}):
            return "NORM"
        return "OTHER"

    @property
    def mi_subclasses(self) -> tuple[str, ...]:
        return tuple(s for s in MI_SUBCLASSES if s in self.subclasses)


def database_dir(data_dir: Path | str) -> Path:
    d = Path(data_dir) / "ptbxl"
    if not (d / "ptbxl_database.csv").is_file():
        raise MissingDatabaseError("ptbxl", str(data_dir), str(d / "ptbxl_database.csv"))
    return d


def _diagnostic_table(d: Path) -> pd.DataFrame:
    f = d / "scp_statements.csv"
    if not f.is_file():
        raise DataError(f"{f}: file missing")
    table = pd.read_csv(f, index_col=0)
    return table[table["diagnostic"] == 1]


def read_metadata(
    data_dir: Path | str,
    sampling_rate: int = 100,
    min_likelihood: float = 0.0,
    present_only: bool = True,
) -> list[PtbxlEntry]:
    """Rows of the PTB-XL table with labels, optionally only those whose files exist.

    Args:
        data_dir: data location (the folder holding ``ptbxl/``).
        sampling_rate: 100 (``filename_lr``) or 500 (``filename_hr``) Hz.
        min_likelihood: SCP likelihood (0-100) a diagnostic code needs to count.
        present_only: drop rows whose header file is not on disk.
    """
    if sampling_rate not in (100, 500):
        raise DataError(f"PTB-XL sampling rate must be 100 or 500 Hz, got {sampling_rate}")
    d = database_dir(data_dir)
    diag = _diagnostic_table(d)
    db = pd.read_csv(d / "ptbxl_database.csv")
    column = "filename_lr" if sampling_rate == 100 else "filename_hr"
    entries = []
    for row in db.itertuples(index=False):
        fname = getattr(row, column)
        if not isinstance(fname, str) or not fname:
            continue
        if present_only and not (d / f"{fname}.hea").is_file():
            continue
        codes = ast.literal_eval(row.scp_codes)
        keys = [k for k, v in codes.items() if k in diag.index and float(v) >= min_likelihood]
        entries.append(
            PtbxlEntry(
                ecg_id=int(row.ecg_id),
                patient_id=str(int(row.patient_id)),
                strat_fold=int(row.strat_fold),
                filename=fname,
                superclasses=frozenset(str(diag.at[k, "diagnostic_class"]) for k in keys),
                subclasses=frozenset(str(diag.at[k, "diagnostic_subclass"]) for k in keys),
            )
        )
    return entries


def load_record(data_dir: Path | str, entry: PtbxlEntry, sampling_rate: int = 100) -> EcgRecord:
    """Load the 12-lead signal (mV) of one PTB-XL entry, leads in the standard order."""
    base = database_dir(data_dir) / entry.filename
    sig, fs, names = read_wfdb_signal(base, expected_fs=float(sampling_rate), leads=LEADS)
    return EcgRecord(
        record_id=entry.record_id,
        patient_id=entry.patient_id,
        signal=sig,
        fs=fs,
        lead_names=names,
        label=entry.group,
        labels=entry.mi_subclasses,
        path=str(base),
    )


def label_counts(entries: list[PtbxlEntry]) -> dict[str, int]:
    """Counts of groups (MI/NORM/OTHER) and MI subclasses over ``entries``."""
    counts: Counter[str] = Counter(e.group for e in entries)
    for e in entries:
        counts.update(e.mi_subclasses)
    keys = ("MI", "NORM", "OTHER") + MI_SUBCLASSES
    return {k: int(counts[k]) for k in keys}


def folds_of(entries: list[PtbxlEntry]) -> np.ndarray:
    return np.array([e.strat_fold for e in entries], dtype=np.int64)
