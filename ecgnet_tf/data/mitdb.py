"""MIT-BIH Arrhythmia Database loader (48 half-hour two-lead records at 360 Hz).

Beat labels follow the AAMI EC57 grouping. Lead MLII is chosen by name: it is the first channel in
most records but the second in record 114, and records 102 and 104 have no MLII at all (V5 and V2,
because of surgical dressings); for those two the first channel (V5) is used when
``fallback=True``. Both are paced records, which AAMI excludes by default anyway.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import wfdb

from .errors import DataError, MissingDatabaseError
from .records import EcgRecord, read_wfdb_signal

FS_HZ = 360.0
RECORDS: tuple[str, ...] = (
    "100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "111", "112",
    "113", "114", "115", "116", "117", "118", "119", "121", "122", "123", "124", "200",
    "201", "202", "203", "205", "207", "208", "209", "210", "212", "213", "214", "215",
    "217", "219", "220", "221", "222", "223", "228", "230", "231", "232", "233", "234",
)
PACED_RECORDS: tuple[str, ...] = ("102", "104", "107", "217")
#: Records 201 and 202 were recorded from the same man (MIT-BIH directory); they share a patient id.
SAME_SUBJECT: dict[str, str] = {"202": "201"}

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
AAMI_MAP: dict[str, str] = {
    **{s: "N" for s in ("N", "L", "R", "e", "j")},
    **{s: "S" for s in ("A", "a", "J", "S")},
    **{s: "V" for s in ("V", "E")},
    "F": "F",
    **{s: "Q" for s in ("/", "f", "Q")},
}


def patient_id(record: str) -> str:
    """Subject id of a MIT-BIH record (records 201 and 202 share one subject)."""
    return SAME_SUBJECT.get(record, record)


def database_dir(data_dir: Path | str) -> Path:
    """Folder of the MIT-BIH files under the data location; raises MissingDatabaseError if absent."""
    d = Path(data_dir) / "mitdb"
    if not d.is_dir():
        raise MissingDatabaseError("mitdb", str(data_dir), str(d))
    return d


def available_records(data_dir: Path | str, include_paced: bool = False) -> list[str]:
    """MIT-BIH records present under the data location (header found), paced excluded by default."""
    d = database_dir(data_dir)
    present = [r for r in RECORDS if (d / f"{r}.hea").is_file()]
    if not include_paced:
        present = [r for r in present if r not in PACED_RECORDS]
    if not present:
        raise MissingDatabaseError("mitdb", str(data_dir), str(d / "100.hea"))
    return present


def read_beats(data_dir: Path | str, record: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference beats of a record mapped to AAMI classes.

    Returns:
        (sample indices int64, original symbols, AAMI classes); non-beat annotations and beat
        symbols outside the AAMI map (e.g. '!' flutter waves) are dropped.
    """
    base = database_dir(data_dir) / record
    atr = base.with_name(f"{record}.atr")
    if not atr.is_file():
        raise DataError(f"{atr}: annotation file missing")
    if atr.stat().st_size == 0:
        raise DataError(f"{atr}: empty annotation file")
    try:
        ann = wfdb.rdann(str(base), "atr")
    except Exception as exc:
        raise DataError(f"{atr}: unreadable annotation file ({exc})") from exc
    symbols = np.asarray(ann.symbol, dtype=object)
    keep = np.array([s in AAMI_MAP for s in symbols], dtype=bool)
    if symbols.size == 0 or not keep.any():
        raise DataError(f"{atr}: no beat annotations")
    samples = np.asarray(ann.sample, dtype=np.int64)[keep]
    syms = symbols[keep].astype(str)
    classes = np.array([AAMI_MAP[s] for s in syms], dtype="<U1")
    return samples, syms, classes


def lead_for(record: str, header_leads: tuple[str, ...], lead: str, fallback: bool) -> str:
    """Pick ``lead`` if the record has it, else the first channel when ``fallback``."""
    if lead in header_leads:
        return lead
    if fallback:
        return header_leads[0]
    raise DataError(f"MIT-BIH record {record}: no lead {lead}; record has {list(header_leads)}")


def load_record(
    data_dir: Path | str, record: str, lead: str | None = "MLII", fallback: bool = True
) -> EcgRecord:
    """Load one MIT-BIH record with its AAMI beat labels.

    Args:
        data_dir: data location (the folder holding ``mitdb/``).
        record: record name, e.g. "100".
        lead: lead to return by name; None returns both channels.
        fallback: use the first channel when the record lacks ``lead`` (102, 104).
    """
    if record not in RECORDS:
        raise DataError(f"unknown MIT-BIH record {record!r}; valid: {', '.join(RECORDS)}")
    base = database_dir(data_dir) / record
    if not base.with_name(f"{record}.hea").is_file():
        raise DataError(f"{base}.hea: file missing")
    leads = None
    if lead is not None:
        names = tuple(wfdb.rdheader(str(base)).sig_name)
        leads = (lead_for(record, names, lead, fallback),)
    sig, fs, names = read_wfdb_signal(base, expected_fs=FS_HZ, leads=leads)
    samples, syms, classes = read_beats(data_dir, record)
    return EcgRecord(
        record_id=record,
        patient_id=patient_id(record),
        signal=sig,
        fs=fs,
        lead_names=names,
        beat_samples=samples,
        beat_symbols=syms,
        beat_classes=classes,
        path=str(base),
    )


def beat_counts(data_dir: Path | str, records: list[str]) -> dict[str, int]:
    """AAMI beat totals over ``records`` (reads annotations only)."""
    total: Counter[str] = Counter({c: 0 for c in AAMI_CLASSES})
    for r in records:
        total.update(read_beats(data_dir, r)[2].tolist())
    return {c: int(total[c]) for c in AAMI_CLASSES}
