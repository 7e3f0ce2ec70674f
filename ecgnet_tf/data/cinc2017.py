"""PhysioNet/CinC Challenge 2017 loader (single-lead AliveCor ECG at 300 Hz, 9-61 s).

Labels come from the top-level ``REFERENCE.csv`` (v3): N normal, A atrial fibrillation, O other
rhythm, ~ too noisy. The database has no patient identifiers, so a record stands for a subject;
the two byte-identical record pairs known in the training set are mapped to one subject so that
a split can never put the same signal on both sides.

Checks (DataError naming the file): a ``REFERENCE.csv`` row must be ``record,label`` with a known
label and a plain record name (letters, digits, ``_``, ``-``: no path separators, ``..`` or absolute
paths that would leave the database folder); a record listed twice with different labels is refused
(identical repeats are tolerated). A record's ``.mat`` must be the MAT v4 file WFDB reads (one int16
variable ``val`` of 1 x sig_len) and its single lead must be named ``ECG``.
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from .errors import DataError, MissingDatabaseError
from .records import EcgRecord, check_signal_files, read_header, read_wfdb_signal
from .registry import Database

FS_HZ = 300.0
CLASSES: tuple[str, ...] = ("N", "A", "O", "~")
DATABASE = Database("cinc2017", "PhysioNet/CinC Challenge 2017", FS_HZ, ("ECG",), "cinc2017/REFERENCE.csv")
#: Byte-identical recordings in training2017 (same signal under two names).
DUPLICATES: dict[str, str] = {"A01176": "A00227", "A03123": "A02656"}
#: The lead name of every CinC 2017 header.
LEADS: tuple[str, ...] = ("ECG",)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def database_dir(data_dir: Path | str) -> Path:
    d = Path(data_dir) / "cinc2017"
    if not (d / "REFERENCE.csv").is_file():
        raise MissingDatabaseError("cinc2017", str(data_dir), str(d / "REFERENCE.csv"))
    return d


def patient_id(record: str) -> str:
    """Stand-in subject id: the record itself, or its duplicate's name."""
    return DUPLICATES.get(record, record)


def check_name(record: str, where: str) -> None:
    """Refuse a record name that is not a plain file name (it would leave the database folder)."""
    if not isinstance(record, str) or not _NAME.fullmatch(record):
        raise DataError(f"{where}: record name {record!r} is not a plain record name (letters, digits, '_', '-'); "
                        f"path separators, '..' or absolute paths would leave the database folder")


def read_reference(data_dir: Path | str, present_only: bool = True) -> dict[str, str]:
    """Record name -> label, from REFERENCE.csv, keeping records whose header exists.

    Raises DataError (naming the file and line) for a malformed row, an unsafe record name or a
    record listed twice with different labels.
    """
    d = database_dir(data_dir)
    f = d / "REFERENCE.csv"
    labels: dict[str, str] = {}
    line_of: dict[str, int] = {}
    try:
        with open(f, newline="") as fh:
            rows = list(enumerate(csv.reader(fh), start=1))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{f}: unreadable ({exc})") from exc
    for i, row in rows:
        if not row:
            continue
        if len(row) < 2 or row[1] not in CLASSES:
            raise DataError(f"{f}: line {i} is not `record,label` with label in {CLASSES}: {row}")
        record, label = row[0], row[1]
        check_name(record, f"{f}: line {i}")
        if record in labels and labels[record] != label:
            raise DataError(f"{f}: record {record} is listed twice with different labels: line {line_of[record]} "
                            f"says {labels[record]!r}, line {i} says {label!r}")
        if record not in labels:
            labels[record], line_of[record] = label, i
    if present_only:
        labels = {r: c for r, c in labels.items() if (d / "training2017" / f"{r}.hea").is_file()}
    return dict(sorted(labels.items()))


def _base(data_dir: Path | str, record: str) -> Path:
    d = database_dir(data_dir) / "training2017"
    check_name(record, str(d))
    return d / record


def load_record(data_dir: Path | str, record: str, label: str | None = None) -> EcgRecord:
    """Load one CinC 2017 record (signal in mV, 300 Hz) with its label (header and .mat checked)."""
    base = _base(data_dir, record)
    header = read_header(base)
    _check_single_lead(base, header)
    sig, fs, names = read_wfdb_signal(base, expected_fs=FS_HZ, leads=LEADS, header=header)
    if label is None:
        label = read_reference(data_dir, present_only=False).get(record)
    return EcgRecord(
        record_id=record,
        patient_id=patient_id(record),
        signal=sig[:, :1],
        fs=fs,
        lead_names=names[:1],
        label=label,
        path=str(base),
    )


def _check_single_lead(base: Path, header) -> None:
    if tuple(header.sig_name) != LEADS:
        raise DataError(f"{base}.hea: CinC 2017 records have one lead named ECG; header has {list(header.sig_name)}")


def check_record(data_dir: Path | str, record: str, signals: bool = True) -> None:
    """Run :func:`load_record`'s checks; ``signals=False`` checks header, lead and the .mat file only."""
    if signals:
        load_record(data_dir, record, label="")
        return
    base = _base(data_dir, record)
    header = read_header(base)
    _check_single_lead(base, header)
    if abs(header.fs - FS_HZ) > 1e-6:
        raise DataError(f"{base}.hea: sampling rate {header.fs} Hz, expected ({FS_HZ},) Hz")
    check_signal_files(base, header)


def label_counts(labels: dict[str, str]) -> dict[str, int]:
    c = Counter(labels.values())
    return {k: int(c[k]) for k in CLASSES}
