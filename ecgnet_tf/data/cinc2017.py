"""PhysioNet/CinC Challenge 2017 loader (single-lead AliveCor ECG at 300 Hz, 9-61 s).

Labels come from the top-level ``REFERENCE.csv`` (v3): N normal, A atrial fibrillation, O other
rhythm, ~ too noisy. The database has no patient identifiers, so a record stands for a subject;
the two byte-identical record pairs known in the training set are mapped to one subject so that
a split can never put the same signal on both sides.
"""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from .errors import DataError, MissingDatabaseError
from .records import EcgRecord, read_wfdb_signal

FS_HZ = 300.0
CLASSES: tuple[str, ...] = ("N", "A", "O", "~")
#: Byte-identical recordings in training2017 (same signal under two names).
DUPLICATES: dict[str, str] = {"A01176": "A00227", "A03123": "A02656"}


def database_dir(data_dir: Path | str) -> Path:
    d = Path(data_dir) / "cinc2017"
    if not (d / "REFERENCE.csv").is_file():
        raise MissingDatabaseError("cinc2017", str(data_dir), str(d / "REFERENCE.csv"))
    return d


def patient_id(record: str) -> str:
    """Stand-in subject id: the record itself, or its duplicate's name."""
    return DUPLICATES.get(record, record)


def read_reference(data_dir: Path | str, present_only: bool = True) -> dict[str, str]:
    """Record name -> label, from REFERENCE.csv, keeping records whose header exists."""
    d = database_dir(data_dir)
    f = d / "REFERENCE.csv"
    labels: dict[str, str] = {}
    with open(f, newline="") as fh:
        for i, row in enumerate(csv.reader(fh), start=1):
            if not row:
                continue
            if len(row) < 2 or row[1] not in CLASSES:
                raise DataError(f"{f}: line {i} is not `record,label` with label in {CLASSES}: {row}")
            labels[row[0]] = row[1]
    if present_only:
        labels = {r: c for r, c in labels.items() if (d / "training2017" / f"{r}.hea").is_file()}
    return dict(sorted(labels.items()))


def load_record(data_dir: Path | str, record: str, label: str | None = None) -> EcgRecord:
    """Load one CinC 2017 record (signal in mV, 300 Hz) with its label."""
    base = database_dir(data_dir) / "training2017" / record
    sig, fs, names = read_wfdb_signal(base, expected_fs=FS_HZ)
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


def label_counts(labels: dict[str, str]) -> dict[str, int]:
    c = Counter(labels.values())
    return {k: int(c[k]) for k in CLASSES}
