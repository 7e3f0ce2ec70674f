"""Typed ECG records and a validating WFDB reader shared by the database loaders.

:func:`read_wfdb_signal` refuses, with a :class:`DataError` naming the file and the problem:

- a header that does not parse, or whose signal lines disagree with its ``n_sig``;
- a sampling rate, lead names or units other than the database's (signals must be in mV);
- a missing signal file, or one whose size differs from what the header describes
  (``n_sig`` x ``sig_len`` x bytes per sample of the format, plus the byte offset): a truncated file,
  or e.g. an ``n_sig`` of 1 over a two-lead file that would read the interleaved leads as one;
- a ``.mat`` signal file that is not the MAT v4 layout WFDB reads (one int16 variable ``val`` of
  ``n_sig`` x ``sig_len``): a MAT v5 file's header bytes would otherwise be read as signal;
- NaN/inf samples, or an empty signal;
- a lead that is flat (one repeated value) for the whole record, or for a stretch of at least
  :data:`FLAT_MAX_S` seconds or :data:`FLAT_MAX_FRACTION` of the record, whichever is shorter
  (a zeroed or disconnected stretch). On the real copies the longest constant stretch of any lead is
  0.74 s in MIT-BIH (48 records, 30 min), 0.32 s (3 % of the record) in PTB-XL (987 records, 10 s)
  and 0.30 s in CinC 2017 (5,115 records, 9-61 s), so the rule has a wide margin;
- a lead whose robust amplitude (99.9th percentile of ``|x - median|``) exceeds
  :data:`MAX_ROBUST_MV` mV, i.e. a wrong gain or units in the header (real data: at most 11.4 mV).

:func:`validate_records` runs these checks (and the annotation checks) over a list of records
without cutting windows, e.g. before training.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import wfdb

from .errors import DataError

#: A lead whose robust amplitude (99.9th percentile of |x - median|) exceeds this (mV) is refused.
MAX_ROBUST_MV = 20.0
#: A lead constant for at least this many seconds ...
FLAT_MAX_S = 5.0
#: ... or for at least this fraction of the record (whichever is shorter) is refused.
FLAT_MAX_FRACTION = 0.25


@dataclass(frozen=True)
class EcgRecord:
    """One ECG recording.

    Attributes:
        record_id: database record name ("100", "00001_lr", "A00012").
        patient_id: subject identifier used for leakage-free splits.
        signal: (n_samples, n_leads) float32 in mV.
        fs: sampling rate in Hz.
        lead_names: one name per column of ``signal``.
        beat_samples: reference beat positions in samples (beat databases), else None.
        beat_symbols: original annotation symbols for ``beat_samples``.
        beat_classes: AAMI class letter (N/S/V/F/Q) per beat.
        label: record-level label (CinC 2017: N/A/O/~; PTB-XL: MI/NORM/OTHER), else None.
        labels: record-level multi-label set (e.g. PTB-XL MI subclasses).
        path: record path without extension.
    """

    record_id: str
    patient_id: str
    signal: np.ndarray
    fs: float
    lead_names: tuple[str, ...]
    beat_samples: np.ndarray | None = None
    beat_symbols: np.ndarray | None = None
    beat_classes: np.ndarray | None = None
    label: str | None = None
    labels: tuple[str, ...] = field(default_factory=tuple)
    path: str = ""

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return self.signal.shape[0] / self.fs


def _require_files(base: Path, extensions: tuple[str, ...]) -> None:
    for ext in extensions:
        if ext == ".dat":
            continue  # data file names come from the header; checked after reading it
        f = base.with_name(base.name + ext)
        if not f.is_file():
            raise DataError(f"{f}: file missing")


def read_header(base: Path) -> "wfdb.Record":
    """The parsed ``.hea`` of ``base`` (record path without extension), checked for consistency.

    Raises DataError when the header is missing, does not parse, or its signal lines disagree with
    its ``n_sig`` (e.g. ``n_sig`` edited to 1 over a two-signal header).
    """
    base = Path(base)
    hea = base.with_name(base.name + ".hea")
    _require_files(base, (".hea",))
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises assorted errors on bad headers
        raise DataError(f"{hea}: unreadable header ({exc})") from exc
    n_sig = int(header.n_sig or 0)
    if n_sig <= 0:
        raise DataError(f"{hea}: header declares no signals (n_sig {header.n_sig})")
    for attr in ("sig_name", "file_name", "fmt", "adc_gain"):
        values = getattr(header, attr) or []
        if len(values) != n_sig:
            raise DataError(f"{hea}: header declares n_sig {n_sig} but has {len(values)} signal line(s) ({attr})")
    if header.fs is None or not header.fs > 0:
        raise DataError(f"{hea}: no valid sampling rate ({header.fs})")
    return header


def read_wfdb_signal(
    base: Path,
    expected_fs: float | tuple[float, ...] | None = None,
    leads: tuple[str, ...] | None = None,
    header: "wfdb.Record | None" = None,
) -> tuple[np.ndarray, float, tuple[str, ...]]:
    """Read a WFDB record's physical signal as float32 mV with checks (see the module docstring).

    Args:
        base: record path without extension.
        expected_fs: allowed sampling rate(s) in Hz; a different rate raises DataError.
        leads: lead names to return in this order; a missing lead raises DataError.
        header: the record's header from :func:`read_header`, when the caller already has it.

    Returns:
        (signal (n_samples, n_leads) float32 mV, fs Hz, lead names).
    """
    base = Path(base)
    hea = base.with_name(base.name + ".hea")
    if header is None:
        header = read_header(base)
    if expected_fs is not None:
        allowed = (expected_fs,) if np.isscalar(expected_fs) else tuple(expected_fs)
        if not any(abs(header.fs - f) < 1e-6 for f in allowed):
            raise DataError(f"{base}.hea: sampling rate {header.fs} Hz, expected {allowed} Hz")
    names = tuple(header.sig_name or ())
    if leads is not None:
        missing = [lead for lead in leads if lead not in names]
        if missing:
            raise DataError(f"{base}.hea: missing lead(s) {missing}; record has {list(names)}")
    wanted = [names.index(lead) for lead in leads] if leads is not None else range(len(names))
    units = list(header.units or ["mV"] * len(names))
    for i in wanted:
        if str(units[i] or "mV").strip().lower() != "mv":
            raise DataError(f"{hea}: lead {names[i]} is in {units[i]!r}; the loaders expect mV")
    check_signal_files(base, header)
    try:
        rec = wfdb.rdrecord(str(base), channel_names=list(leads) if leads else None)
    except Exception as exc:
        raise DataError(f"{base}: cannot read signal ({exc})") from exc
    sig = np.asarray(rec.p_signal, dtype=np.float32)
    if sig.ndim != 2 or sig.shape[0] == 0:
        raise DataError(f"{base}: empty signal")
    if not np.all(np.isfinite(sig)):
        bad = int(np.sum(~np.isfinite(sig)))
        raise DataError(f"{base}: signal has {bad} NaN/inf samples")
    check_plausible_signal(base, sig, float(rec.fs), tuple(rec.sig_name))
    return sig, float(rec.fs), tuple(rec.sig_name)


def check_plausible_signal(base: Path, sig: np.ndarray, fs: float, names: tuple[str, ...]) -> None:
    """Refuse flat leads, long flat stretches and implausible amplitudes (rules in the module docstring).

    ``sig`` is (n, C) float32 mV of the record ``base`` (path without extension), ``names`` its leads.
    """
    flat = [names[i] for i in range(sig.shape[1]) if float(np.ptp(sig[:, i])) == 0.0]
    if flat:
        raise DataError(f"{base}: flat-line lead(s) {flat} (constant signal)")
    n = sig.shape[0]
    limit = min(FLAT_MAX_S * fs, FLAT_MAX_FRACTION * n)
    for i in range(sig.shape[1]):
        run, start = longest_constant_run(sig[:, i])
        if run >= limit:
            raise DataError(
                f"{base}: lead {names[i]} is flat (constant) for {run / fs:.1f} s of {n / fs:.1f} s "
                f"(from {start / fs:.1f} s); records with a flat stretch of {FLAT_MAX_S:g} s or "
                f"{FLAT_MAX_FRACTION:.0%} of the record are refused (zeroed or disconnected signal)"
            )
    for i in range(sig.shape[1]):
        x = sig[:, i]
        robust = float(np.percentile(np.abs(x - np.median(x)), 99.9))
        if robust > MAX_ROBUST_MV:
            raise DataError(
                f"{base}.hea: lead {names[i]} has values up to {robust:.0f} mV (99.9th percentile of "
                f"|x - median|; ECG stays below {MAX_ROBUST_MV:g} mV): check the header's gain "
                f"(ADC units per mV) or units"
            )


def longest_constant_run(x: np.ndarray) -> tuple[int, int]:
    """(length, start) in samples of the longest stretch of identical consecutive values of ``x``."""
    if len(x) == 0:
        return 0, 0
    edges = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1], [True])))
    runs = np.diff(edges)
    k = int(np.argmax(runs))
    return int(runs[k]), int(edges[k])


_BYTES_PER_SAMPLE = {"16": 2.0, "212": 1.5, "8": 1.0, "80": 1.0, "24": 3.0, "32": 4.0, "61": 2.0, "310": 4 / 3, "311": 4 / 3}
#: MAT v4 type code (MOPT: little-endian, full numeric matrix) for the WFDB formats a .mat can hold.
_MAT4_TYPE = {"16": 30, "32": 20, "80": 50}


def check_signal_files(base: Path, header: "wfdb.Record") -> None:
    """Check every signal file the header names: present, MAT v4 layout for ``.mat``, and the size."""
    for fname in sorted(set(header.file_name or ())):
        f = Path(base).parent / fname
        if not f.is_file():
            raise DataError(f"{f}: signal file missing")
        if f.suffix.lower() == ".mat":
            _check_mat_v4(f, header)
        _check_dat_size(f, header)


def _file_signals(f: Path, header: "wfdb.Record") -> tuple[list[int], float, int]:
    """(signal indices stored in ``f``, bytes per frame, byte offset) according to the header."""
    idx = [i for i, n in enumerate(header.file_name) if n == f.name]
    per_frame = sum(_BYTES_PER_SAMPLE.get(str(header.fmt[i]), 0.0) for i in idx)
    offsets = header.byte_offset or [0] * len(header.fmt)
    offset = max(int(offsets[idx[0]] or 0), 0) if idx else 0
    return idx, per_frame, offset


def _check_dat_size(f: Path, header: "wfdb.Record") -> None:
    """Raise DataError when a signal file's size differs from what the header describes.

    Expected bytes: byte offset + (sum over the file's signals of bytes per sample) x ``sig_len``,
    rounded up (format 212 packs two samples in three bytes). Shorter: truncated. Longer: the header
    describes fewer signals or samples than the file holds (e.g. ``n_sig`` edited from 2 to 1, which
    would read two interleaved leads as one).
    """
    if not header.sig_len:
        return
    idx, per_frame, offset = _file_signals(f, header)
    if not idx or per_frame == 0.0:
        return
    exact = per_frame * header.sig_len + offset
    low, high = int(np.floor(exact)), int(np.ceil(exact))
    actual = f.stat().st_size
    fmts = sorted({str(header.fmt[i]) for i in idx})
    described = (f"{len(idx)} signal(s) x {header.sig_len} samples in format {'/'.join(fmts)}"
                 + (f" after {offset} header bytes" if offset else ""))
    if actual < low:
        raise DataError(
            f"{f}: truncated ({actual} bytes, header promises {high} for {header.sig_len} samples: {described})"
        )
    if actual > high:
        raise DataError(
            f"{f}: {actual} bytes, but the header describes {high} ({described}); "
            f"check n_sig, sig_len and format in {header.record_name}.hea"
        )


def _check_mat_v4(f: Path, header: "wfdb.Record") -> None:
    """Refuse a ``.mat`` signal file that is not MAT v4 with one variable ``val`` of n_sig x sig_len."""
    idx, _, offset = _file_signals(f, header)
    with open(f, "rb") as fh:
        head = fh.read(128)
    if head[:6] == b"MATLAB" or (len(head) >= 128 and head[126:128] in (b"IM", b"MI")):
        raise DataError(f"{f}: MAT v5/v7 file; WFDB expects a MAT v4 file holding one variable `val` "
                        f"(save it with scipy.io.savemat(..., format='4') or MATLAB -v4)")
    if len(head) < 20:
        raise DataError(f"{f}: not a MAT v4 file (only {len(head)} bytes)")
    mtype, mrows, ncols, imagf, namlen = struct.unpack("<5i", head[:20])
    name = head[20:20 + namlen] if 0 < namlen <= 64 else b""
    problems = []
    if name.rstrip(b"\x00") != b"val":
        problems.append(f"variable {name.rstrip(bytes(1)).decode('latin-1')!r} instead of 'val'")
    fmt = str(header.fmt[idx[0]]) if idx else ""
    if fmt in _MAT4_TYPE and mtype != _MAT4_TYPE[fmt]:
        problems.append(f"type code {mtype}, expected {_MAT4_TYPE[fmt]} (little-endian format {fmt})")
    if imagf != 0:
        problems.append("complex data")
    if (mrows, ncols) != (len(idx), header.sig_len):
        problems.append(f"a {mrows} x {ncols} matrix, header describes {len(idx)} x {header.sig_len}")
    if offset and 20 + namlen != offset:
        problems.append(f"data starts at byte {20 + namlen}, header says {offset}")
    if problems:
        raise DataError(f"{f}: not the MAT v4 layout the header describes (one variable `val`): "
                        + "; ".join(problems))


def validate_records(
    database: str,
    data_dir: Path | str,
    records: Iterable[str],
    entries: Mapping[str, object] | None = None,
    signals: bool = True,
    max_listed: int = 10,
) -> int:
    """Check records of a database without cutting windows, e.g. the test partition before training.

    Every record gets the loader's checks: header, signal files (presence, size, MAT layout), leads,
    and for MIT-BIH the annotations; with ``signals`` (default) also the signal itself (NaN, flat
    stretches, amplitude), i.e. exactly what loading it for windows would check.

    Args:
        database: "mitdb", "ptbxl" or "cinc2017".
        data_dir: data location (the folder holding ``<database>/``).
        records: record ids (PTB-XL: record ids such as "00001_lr").
        entries: PTB-XL record id -> :class:`ptbxl.PtbxlEntry` (``TaskRecords.entry_of``); read from
            the metadata when None.
        signals: also read and check the signals (cheap next to windowing: about 2 s for all of
            MIT-BIH).
        max_listed: failures quoted in the error.

    Returns:
        The number of records checked (all passed).

    Raises:
        DataError: one message listing the failing records (first ``max_listed``), each with its
        file and problem.
    """
    from . import cinc2017, mitdb, ptbxl  # the loaders import this module

    ids = list(records)
    if database == "ptbxl" and entries is None:
        entries = {e.record_id: e for e in ptbxl.read_metadata(data_dir, present_only=False)}
    failures: list[str] = []
    for rid in ids:
        try:
            if database == "mitdb":
                mitdb.check_record(data_dir, rid, signals=signals)
            elif database == "ptbxl":
                if rid not in entries:
                    raise DataError(f"{ptbxl.database_dir(data_dir) / 'ptbxl_database.csv'}: no record {rid!r}")
                ptbxl.check_record(data_dir, entries[rid], signals=signals)
            elif database == "cinc2017":
                cinc2017.check_record(data_dir, rid, signals=signals)
            else:
                raise ValueError(f"unknown database {database!r}")
        except DataError as exc:
            failures.append(str(exc))
    if failures:
        listed = "; ".join(failures[:max_listed])
        more = f"; ... and {len(failures) - max_listed} more" if len(failures) > max_listed else ""
        raise DataError(f"{len(failures)} of {len(ids)} {database} record(s) failed validation: {listed}{more}")
    return len(ids)
