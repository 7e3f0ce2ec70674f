"""Typed ECG records and a validating WFDB reader shared by the database loaders."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import wfdb

from .errors import DataError


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


def read_wfdb_signal(
    base: Path,
    expected_fs: float | tuple[float, ...] | None = None,
    leads: tuple[str, ...] | None = None,
) -> tuple[np.ndarray, float, tuple[str, ...]]:
    """Read a WFDB record's physical signal as float32 mV with checks.

    Args:
        base: record path without extension.
        expected_fs: allowed sampling rate(s) in Hz; a different rate raises DataError.
        leads: lead names to return in this order; an unknown lead raises DataError.

    Returns:
        (signal (n_samples, n_leads) float32 mV, fs Hz, lead names).
    """
    base = Path(base)
    _require_files(base, (".hea",))
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises assorted errors on bad headers
        raise DataError(f"{base}.hea: unreadable header ({exc})") from exc
    if expected_fs is not None:
        allowed = (expected_fs,) if np.isscalar(expected_fs) else tuple(expected_fs)
        if not any(abs(header.fs - f) < 1e-6 for f in allowed):
            raise DataError(f"{base}.hea: sampling rate {header.fs} Hz, expected {allowed} Hz")
    names = tuple(header.sig_name or ())
    if leads is not None:
        missing = [lead for lead in leads if lead not in names]
        if missing:
            raise DataError(f"{base}.hea: unknown lead(s) {missing}; record has {list(names)}")
    for fname in sorted(set(header.file_name or ())):
        f = base.parent / fname
        if not f.is_file():
            raise DataError(f"{f}: signal file missing")
        _check_dat_size(f, header)
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
    flat = [rec.sig_name[i] for i in range(sig.shape[1]) if float(np.ptp(sig[:, i])) == 0.0]
    if flat:
        raise DataError(f"{base}: flat-line lead(s) {flat} (constant signal)")
    return sig, float(rec.fs), tuple(rec.sig_name)


_BYTES_PER_SAMPLE = {"16": 2.0, "212": 1.5, "8": 1.0, "80": 1.0, "24": 3.0, "32": 4.0, "61": 2.0, "310": 4 / 3, "311": 4 / 3}


def _check_dat_size(f: Path, header: "wfdb.Record") -> None:
    """Raise DataError when a .dat file is shorter than its header promises."""
    if f.suffix != ".dat" or not header.sig_len:
        return
    idx = [i for i, n in enumerate(header.file_name) if n == f.name]
    per_sample = sum(_BYTES_PER_SAMPLE.get(str(header.fmt[i]), 0.0) for i in idx)
    if per_sample == 0.0:
        return
    offset = max(int((header.byte_offset or [0] * len(header.fmt))[idx[0]] or 0), 0)
    expected = int(np.floor(per_sample * header.sig_len)) + offset
    actual = f.stat().st_size
    if actual < expected:
        raise DataError(
            f"{f}: truncated ({actual} bytes, header promises {expected} for {header.sig_len} samples)"
        )
