"""PTB-XL loader (12-lead, 10-s records at 100 Hz or 500 Hz) with MI labels.

Labels use the standard PTB-XL aggregation: every ``scp_codes`` key that is diagnostic in
``scp_statements.csv`` and whose likelihood is at least ``min_likelihood`` contributes its
``diagnostic_class`` (superclass) and ``diagnostic_subclass``. Groups: ``MI`` (any MI code),
``NORM`` (superclass set exactly {NORM}) and ``OTHER`` (everything else). MI localisation uses the
subclasses AMI / IMI / LMI / PMI (a record may carry several).

The shared copy holds only a subset of the records: loaders use what exists and report counts.

The CSVs are checked and every problem is a DataError naming the file (and the row): an empty file,
missing columns, ``scp_codes`` that is not a dict literal of code -> likelihood (parsed with
``ast.literal_eval``, never ``eval``), a missing ``patient_id`` / ``ecg_id`` / ``strat_fold``, a
record file name that would leave the database folder (absolute, ``..``, backslashes), and two rows
for the same record. ``scp_statements.csv`` needs ``diagnostic``, ``diagnostic_class`` and
``diagnostic_subclass``, filled for every diagnostic code. Records must have the 12 standard leads.
"""
from __future__ import annotations

import ast
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from .errors import DataError, MissingDatabaseError
from .records import EcgRecord, check_signal_files, read_header, read_wfdb_signal
from .registry import Database

LEADS: tuple[str, ...] = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
MI_SUBCLASSES: tuple[str, ...] = ("AMI", "IMI", "LMI", "PMI")
TRAIN_FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS: tuple[int, ...] = (9,)
TEST_FOLDS: tuple[int, ...] = (10,)
DATABASE = Database("ptbxl", "PTB-XL", 100.0, LEADS, "ptbxl/ptbxl_database.csv")  # records100 by default


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


DATABASE_COLUMNS: tuple[str, ...] = ("ecg_id", "patient_id", "scp_codes", "strat_fold")
SCP_COLUMNS: tuple[str, ...] = ("diagnostic", "diagnostic_class", "diagnostic_subclass")


def _read_csv(f: Path, columns: tuple[str, ...], **kwargs) -> pd.DataFrame:
    """A PTB-XL CSV with the ``columns`` it must have; any problem is a DataError naming ``f``."""
    if not f.is_file():
        raise DataError(f"{f}: file missing")
    try:
        table = pd.read_csv(f, **kwargs)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{f}: empty file (no header row, no records)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{f}: unreadable CSV ({exc})") from exc
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{f}: missing column(s) {missing}; the file has {list(table.columns)}")
    if table.empty:
        raise DataError(f"{f}: no rows (header only)")
    return table


def _diagnostic_table(d: Path) -> pd.DataFrame:
    f = d / "scp_statements.csv"
    table = _read_csv(f, SCP_COLUMNS, index_col=0)
    diag = table[pd.to_numeric(table["diagnostic"], errors="coerce") == 1]
    for code, row in diag.iterrows():
        for col in ("diagnostic_class", "diagnostic_subclass"):
            if not isinstance(row[col], str) or not row[col].strip():
                raise DataError(f"{f}: diagnostic code {code!r} has no {col}")
    return diag


def check_filename(f: Path, where: str, fname: str) -> None:
    """Refuse a record path (relative, without extension) that would leave the database folder."""
    p = PurePosixPath(fname)
    if (not fname or "\\" in fname or "\x00" in fname or p.is_absolute() or ".." in p.parts
            or (len(fname) > 1 and fname[1] == ":")):
        raise DataError(f"{f}: {where}: record path {fname!r} would leave the database folder "
                        f"(absolute paths, '..' and backslashes are refused)")


def _parse_codes(f: Path, where: str, text) -> dict[str, float]:
    """``scp_codes`` cell -> {code: likelihood}, via ast.literal_eval (never eval)."""
    bad = f"{f}: {where}: scp_codes is not a dict of code -> likelihood: {str(text)[:80]!r}"
    if not isinstance(text, str):
        raise DataError(bad)
    try:
        codes = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise DataError(bad) from exc
    if not isinstance(codes, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for k, v in codes.items()
    ):
        raise DataError(bad)
    return {k: float(v) for k, v in codes.items()}


def _integer(f: Path, where: str, column: str, value) -> int:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not math.isfinite(x) or x != int(x):
        raise DataError(f"{f}: {where}: {column} is missing or not an integer ({value!r})")
    return int(x)


def read_metadata(
    data_dir: Path | str,
    sampling_rate: int = 100,
    min_likelihood: float = 0.0,
    present_only: bool = True,
) -> list[PtbxlEntry]:
    """Rows of the PTB-XL table with labels, optionally only those whose files exist.

    Every row is checked (see the module docstring), present or not: a corrupt table is refused
    rather than partly used.

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
    column = "filename_lr" if sampling_rate == 100 else "filename_hr"
    f = d / "ptbxl_database.csv"
    db = _read_csv(f, DATABASE_COLUMNS + (column,))
    entries = []
    row_of: dict[str, tuple[int, str]] = {}
    for n, row in enumerate(db[list(DATABASE_COLUMNS + (column,))].itertuples(index=False), start=1):
        ecg_id = _integer(f, f"row {n}", "ecg_id", row.ecg_id)
        where = f"row {n} (ecg_id {ecg_id})"
        patient = _integer(f, where, "patient_id", row.patient_id)
        fold = _integer(f, where, "strat_fold", row.strat_fold)
        codes = _parse_codes(f, where, row.scp_codes)
        fname = getattr(row, column)
        if not isinstance(fname, str) or not fname:
            continue
        check_filename(f, where, fname)
        rid = PurePosixPath(fname).name
        if rid in row_of:
            raise DataError(f"{f}: {where} and {row_of[rid][1]} both name record {rid!r} ({column})")
        row_of[rid] = (n, where)
        if present_only and not (d / f"{fname}.hea").is_file():
            continue
        keys = [k for k, v in codes.items() if k in diag.index and v >= min_likelihood]
        entries.append(
            PtbxlEntry(
                ecg_id=ecg_id,
                patient_id=str(patient),
                strat_fold=fold,
                filename=fname,
                superclasses=frozenset(str(diag.at[k, "diagnostic_class"]) for k in keys),
                subclasses=frozenset(str(diag.at[k, "diagnostic_subclass"]) for k in keys),
            )
        )
    return entries


def _base(data_dir: Path | str, entry: PtbxlEntry) -> Path:
    d = database_dir(data_dir)
    check_filename(d / "ptbxl_database.csv", f"ecg_id {entry.ecg_id}", entry.filename)
    return d / entry.filename


def load_record(data_dir: Path | str, entry: PtbxlEntry, sampling_rate: int = 100) -> EcgRecord:
    """Load the 12-lead signal (mV) of one PTB-XL entry, leads in the standard order (all checked)."""
    base = _base(data_dir, entry)
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


def check_record(data_dir: Path | str, entry: PtbxlEntry, sampling_rate: int = 100, signals: bool = True) -> None:
    """Run :func:`load_record`'s checks; ``signals=False`` checks header, leads and file sizes only."""
    if signals:
        load_record(data_dir, entry, sampling_rate)
        return
    base = _base(data_dir, entry)
    header = read_header(base)
    hea = base.with_name(base.name + ".hea")
    if abs(header.fs - sampling_rate) > 1e-6:
        raise DataError(f"{hea}: sampling rate {header.fs} Hz, expected ({float(sampling_rate)},) Hz")
    missing = [lead for lead in LEADS if lead not in header.sig_name]
    if missing:
        raise DataError(f"{hea}: missing lead(s) {missing}; record has {list(header.sig_name)}")
    check_signal_files(base, header)


def label_counts(entries: list[PtbxlEntry]) -> dict[str, int]:
    """Counts of groups (MI/NORM/OTHER) and MI subclasses over ``entries``."""
    counts: Counter[str] = Counter(e.group for e in entries)
    for e in entries:
        counts.update(e.mi_subclasses)
    keys = ("MI", "NORM", "OTHER") + MI_SUBCLASSES
    return {k: int(counts[k]) for k in keys}


def folds_of(entries: list[PtbxlEntry]) -> np.ndarray:
    return np.array([e.strat_fold for e in entries], dtype=np.int64)
