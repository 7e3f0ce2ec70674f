"""MIT-BIH Arrhythmia Database loader (48 half-hour two-lead records at 360 Hz).

Beat labels follow the AAMI EC57 grouping. Lead MLII is chosen by name: it is the first channel in
most records but the second in record 114, and records 102 and 104 have no MLII at all (V5 and V2,
because of surgical dressings); for those two the first channel (V5) is used when
``fallback=True``. Both are paced records, which AAMI excludes by default anyway. Any other record
without MLII is refused (a renamed or wrong header), as is a record whose lead names are not MIT-BIH's.

Annotations are checked: every annotation's sample position must lie within the signal
(``0 <= sample < sig_len`` of the header) and positions must not decrease; a corrupt ``.atr`` (e.g.
random bytes, which wfdb happily decodes into beats at sample -5e9) raises DataError naming it.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import wfdb

from .errors import DataError, MissingDatabaseError
from .records import EcgRecord, check_signal_files, read_header, read_wfdb_signal
from .registry import Database

FS_HZ = 360.0
DATABASE = Database("mitdb", "MIT-BIH Arrhythmia Database", FS_HZ, ("MLII",), "mitdb/*.hea")
RECORDS: tuple[str, ...] = (
    "100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "111", "112",
    "113", "114", "115", "116", "117", "118", "119", "121", "122", "123", "124", "200",
    "201", "202", "203", "205", "207", "208", "209", "210", "212", "213", "214", "215",
    "217", "219", "220", "221", "222", "223", "228", "230", "231", "232", "233", "234",
)
PACED_RECORDS: tuple[str, ...] = ("102", "104", "107", "217")
#: Records without MLII (MIT-BIH directory: surgical dressings) and the lead used instead.
FALLBACK_LEADS: dict[str, str] = {"102": "V5", "104": "V5"}
#: Lead names that occur in MIT-BIH headers.
LEAD_NAMES: frozenset[str] = frozenset({"MLII", "V1", "V2", "V4", "V5"})
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


def _base(data_dir: Path | str, record: str) -> Path:
    if record not in RECORDS:
        raise DataError(f"unknown MIT-BIH record {record!r}; valid: {', '.join(RECORDS)}")
    return database_dir(data_dir) / record


def check_annotations(atr: Path, samples: np.ndarray, sig_len: int) -> None:
    """Refuse annotation positions outside ``[0, sig_len)`` or decreasing (a corrupt ``.atr``)."""
    samples = np.asarray(samples, dtype=np.int64)
    outside = np.flatnonzero((samples < 0) | (samples >= sig_len))
    if outside.size:
        i = int(outside[0])
        raise DataError(
            f"{atr}: {outside.size} of {samples.size} annotations lie outside the signal (first: "
            f"annotation {i} at sample {int(samples[i])}; the record has samples 0..{sig_len - 1}): "
            f"corrupt annotation file"
        )
    back = np.flatnonzero(np.diff(samples) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise DataError(
            f"{atr}: annotation sample positions decrease ({back.size} time(s); first: annotation {i} at "
            f"sample {int(samples[i])} after {int(samples[i - 1])}): corrupt annotation file"
        )


def read_beats(
    data_dir: Path | str, record: str, sig_len: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference beats of a record mapped to AAMI classes, after checking the annotation file.

    Args:
        sig_len: the record's length in samples (read from its header when None); every annotation
            must lie in ``[0, sig_len)`` and positions must not decrease, else DataError.

    Returns:
        (sample indices int64, original symbols, AAMI classes); non-beat annotations and beat
        symbols outside the AAMI map (e.g. '!' flutter waves) are dropped.
    """
    base = _base(data_dir, record)
    atr = base.with_name(f"{record}.atr")
    if not atr.is_file():
        raise DataError(f"{atr}: annotation file missing")
    if atr.stat().st_size == 0:
        raise DataError(f"{atr}: empty annotation file")
    if sig_len is None:
        sig_len = int(read_header(base).sig_len or 0)
    try:
        ann = wfdb.rdann(str(base), "atr")
    except Exception as exc:
        raise DataError(f"{atr}: unreadable annotation file ({type(exc).__name__}: {exc})") from exc
    all_samples = np.asarray(ann.sample, dtype=np.int64)
    symbols = np.asarray(ann.symbol, dtype=object)
    if all_samples.shape != symbols.shape:
        raise DataError(f"{atr}: {all_samples.size} positions but {symbols.size} symbols: corrupt annotation file")
    if sig_len:
        check_annotations(atr, all_samples, sig_len)
    keep = np.array([s in AAMI_MAP for s in symbols], dtype=bool)
    if symbols.size == 0 or not keep.any():
        raise DataError(f"{atr}: no beat annotations")
    samples = all_samples[keep]
    syms = symbols[keep].astype(str)
    classes = np.array([AAMI_MAP[s] for s in syms], dtype="<U1")
    return samples, syms, classes


def lead_for(record: str, header_leads: tuple[str, ...], lead: str, fallback: bool, header: Path | None = None) -> str:
    """Pick ``lead`` if the record has it, else the documented substitute (:data:`FALLBACK_LEADS`:
    V5 for MLII in records 102 and 104) when ``fallback``; anything else raises DataError."""
    where = f"{header}: " if header is not None else ""
    if lead in header_leads:
        return lead
    substitute = FALLBACK_LEADS.get(record) if lead == "MLII" else None
    if fallback and substitute in header_leads:
        return substitute
    hint = "" if not fallback else (
        f" (only records {', '.join(FALLBACK_LEADS)} lack MLII; V5 is used there)" if lead == "MLII"
        else " (no documented substitute)")
    raise DataError(f"{where}MIT-BIH record {record}: no lead {lead}; record has {list(header_leads)}{hint}")


def _check_lead_names(hea: Path, record: str, names: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in LEAD_NAMES]
    if unknown:
        raise DataError(f"{hea}: lead name(s) {unknown} are not MIT-BIH leads {sorted(LEAD_NAMES)}")
    if "MLII" not in names and record not in FALLBACK_LEADS:
        raise DataError(f"{hea}: MIT-BIH record {record} has no lead MLII (leads {list(names)}); only records "
                        f"{', '.join(FALLBACK_LEADS)} lack it")


def load_record(
    data_dir: Path | str, record: str, lead: str | None = "MLII", fallback: bool = True
) -> EcgRecord:
    """Load one MIT-BIH record with its AAMI beat labels (header, signal and annotations checked).

    Args:
        data_dir: data location (the folder holding ``mitdb/``).
        record: record name, e.g. "100".
        lead: lead to return by name; None returns both channels.
        fallback: use the documented substitute when the record lacks ``lead`` (V5 for MLII in
            records 102 and 104).
    """
    base = _base(data_dir, record)
    hea = base.with_name(f"{record}.hea")
    if not hea.is_file():
        raise DataError(f"{hea}: file missing")
    header = read_header(base)
    names = tuple(header.sig_name)
    _check_lead_names(hea, record, names)
    leads = None if lead is None else (lead_for(record, names, lead, fallback, hea),)
    sig, fs, names = read_wfdb_signal(base, expected_fs=FS_HZ, leads=leads, header=header)
    samples, syms, classes = read_beats(data_dir, record, sig_len=int(header.sig_len or sig.shape[0]))
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


def check_record(data_dir: Path | str, record: str, signals: bool = True) -> None:
    """Run :func:`load_record`'s checks on one record; ``signals=False`` skips reading the signal
    (header, lead names, signal file sizes and annotations only)."""
    if signals:
        load_record(data_dir, record)
        return
    base = _base(data_dir, record)
    header = read_header(base)
    hea = base.with_name(f"{record}.hea")
    _check_lead_names(hea, record, tuple(header.sig_name))
    if abs(header.fs - FS_HZ) > 1e-6:
        raise DataError(f"{hea}: sampling rate {header.fs} Hz, expected ({FS_HZ},) Hz")
    check_signal_files(base, header)
    read_beats(data_dir, record, sig_len=int(header.sig_len or 0))


def beat_counts(data_dir: Path | str, records: list[str]) -> dict[str, int]:
    """AAMI beat totals over ``records`` (reads annotations only)."""
    total: Counter[str] = Counter({c: 0 for c in AAMI_CLASSES})
    for r in records:
        total.update(read_beats(data_dir, r)[2].tolist())
    return {c: int(total[c]) for c in AAMI_CLASSES}
