"""Chunked readers for long recordings (WFDB, CSV, NumPy .npy) with input validation.

A source never loads the whole recording: WFDB is read with ``wfdb.rdrecord(sampfrom, sampto)``,
``.npy`` is memory-mapped and sliced, CSV is parsed a block of lines at a time. Every chunk is
(n, C) float64 in the file's units (mV expected) at the source's sampling rate ``fs`` (Hz).
Problems raise :class:`InputError` with a one-line message that names the file.
"""
from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

import numpy as np

from ..data.errors import DataError

FORMATS: tuple[str, ...] = ("auto", "wfdb", "csv", "npy")
#: Plausible sampling-rate range in Hz; anything outside is rejected as a probable unit mistake.
FS_RANGE_HZ: tuple[float, float] = (50.0, 10_000.0)
#: Lead names tried, in order, when a single-lead model meets a multi-lead recording.
PREFERRED_LEADS: tuple[str, ...] = ("II", "MLII", "ML2", "ECG", "I", "V5")


class InputError(DataError):
    """The input recording cannot be analysed (format, rate, content)."""


@dataclass(frozen=True)
class SignalInfo:
    """What is known about a recording before reading its samples.

    path: the file (or WFDB record base) given. fs: sampling rate (Hz). n_samples: length in samples
    (None when unknown before reading, i.e. CSV). lead_names: all leads in the file.
    leads: column indices that :meth:`SignalSource.chunks` returns. start_time: wall-clock start
    when the file says so (WFDB base date/time), else None.
    """

    path: Path
    format: str
    fs: float
    n_samples: int | None
    lead_names: tuple[str, ...]
    leads: tuple[int, ...]
    start_time: datetime | None = None

    @property
    def selected_names(self) -> tuple[str, ...]:
        return tuple(self.lead_names[i] for i in self.leads)


def check_fs(fs: float | None, path: Path, fmt: str) -> float:
    """Return ``fs`` as float or raise InputError (missing, non-positive, outside FS_RANGE_HZ)."""
    if fs is None:
        raise InputError(f"{path}: --fs is required for {fmt} input (sampling rate in Hz)")
    fs = float(fs)
    if not np.isfinite(fs) or not FS_RANGE_HZ[0] <= fs <= FS_RANGE_HZ[1]:
        raise InputError(f"{path}: implausible sampling rate {fs:g} Hz "
                         f"(expected {FS_RANGE_HZ[0]:g}..{FS_RANGE_HZ[1]:g} Hz)")
    return fs


def detect_format(path: Path) -> str:
    """Format from the file name: .hea/.dat or an existing ``path.hea`` -> wfdb, .csv/.txt -> csv, .npy."""
    suffix = path.suffix.lower()
    if suffix in (".hea", ".dat") or (path.with_name(path.name + ".hea").is_file()):
        return "wfdb"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix == ".npy":
        return "npy"
    raise InputError(f"{path}: unknown format (use a WFDB record, .csv or .npy, or pass --format)")


def select_leads(names: tuple[str, ...], n_model_leads: int | None, lead: str | None, path: Path) -> tuple[int, ...]:
    """Column indices to analyse.

    ``lead`` (a name, or a 0-based index) picks one column. Otherwise all columns when their number
    matches ``n_model_leads`` (or it is None); for a single-lead model the first of PREFERRED_LEADS
    present, else column 0.
    """
    if lead is not None:
        if lead in names:
            return (names.index(lead),)
        if lead.isdigit() and int(lead) < len(names):
            return (int(lead),)
        raise InputError(f"{path}: no lead {lead!r}; the recording has {list(names)}")
    if n_model_leads is None or n_model_leads == len(names):
        return tuple(range(len(names)))
    if n_model_leads == 1:
        for want in PREFERRED_LEADS:
            if want in names:
                return (names.index(want),)
        return (0,)
    raise InputError(f"{path}: the model needs {n_model_leads} leads, the recording has {len(names)} {list(names)}")


class SignalSource:
    """Base class: ``info`` plus :meth:`chunks` yielding validated (n, C) float64 blocks."""

    info: SignalInfo

    def _raw_chunks(self, chunk_samples: int) -> Iterator[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def chunks(self, chunk_samples: int = 65_536) -> Iterator[np.ndarray]:
        """Yield the selected leads in blocks of at most ``chunk_samples`` samples.

        Raises InputError on the first non-finite sample (naming sample index and time in s) and
        when the recording has no samples at all.
        """
        pos = 0
        for block in self._raw_chunks(chunk_samples):
            x = np.asarray(block, dtype=np.float64)
            bad = ~np.isfinite(x)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                t = (pos + i) / self.info.fs
                raise InputError(f"{self.info.path}: NaN/inf at sample {pos + i} (t = {t:.3f} s), "
                                 f"lead {self.info.selected_names[j]!r}")
            pos += x.shape[0]
            yield x
        if pos == 0:
            raise InputError(f"{self.info.path}: empty recording (no samples)")


class WfdbSource(SignalSource):
    """A WFDB record read with ``wfdb.rdrecord(sampfrom=, sampto=)`` in chunks (physical units)."""

    def __init__(self, path: Path, n_model_leads: int | None = None, lead: str | None = None,
                 fs: float | None = None):
        import wfdb

        base = path.with_suffix("") if path.suffix.lower() in (".hea", ".dat") else path
        if not base.with_name(base.name + ".hea").is_file():
            raise InputError(f"{base}.hea: WFDB header not found")
        try:
            h = wfdb.rdheader(str(base))
        except Exception as exc:  # wfdb raises assorted errors on bad headers
            raise InputError(f"{base}.hea: unreadable header ({exc})") from exc
        rate = check_fs(h.fs, base, "wfdb")
        if fs is not None and abs(float(fs) - rate) > 1e-6:
            raise InputError(f"{base}: --fs {fs:g} Hz conflicts with the header's {rate:g} Hz")
        if not h.sig_len or not h.n_sig:
            raise InputError(f"{base}: empty recording (no samples)")
        names = tuple(h.sig_name or [f"lead{i}" for i in range(h.n_sig)])
        start = datetime.combine(h.base_date, h.base_time) if h.base_date and h.base_time else None
        self.base = base
        self.info = SignalInfo(base, "wfdb", rate, int(h.sig_len), names,
                               select_leads(names, n_model_leads, lead, base), start)

    def _raw_chunks(self, chunk_samples: int) -> Iterator[np.ndarray]:
        import wfdb

        n = self.info.n_samples or 0
        for a in range(0, n, chunk_samples):
            b = min(n, a + chunk_samples)
            try:
                rec = wfdb.rdrecord(str(self.base), sampfrom=a, sampto=b, channels=list(self.info.leads))
            except Exception as exc:
                raise InputError(f"{self.base}: cannot read samples {a}..{b} ({exc})") from exc
            yield rec.p_signal


class NpySource(SignalSource):
    """A memory-mapped .npy of shape (n,) or (n, C); (C, n) with C <= 16 < n is read transposed."""

    def __init__(self, path: Path, fs: float | None, n_model_leads: int | None = None, lead: str | None = None):
        if not path.is_file():
            raise InputError(f"{path}: file not found")
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty file")
        rate = check_fs(fs, path, "npy")
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:
            raise InputError(f"{path}: not a readable .npy file ({exc})") from exc
        if arr.ndim == 1:
            arr = arr[:, None]
        elif arr.ndim == 2 and arr.shape[0] <= 16 < arr.shape[1]:
            arr = arr.T
        elif arr.ndim != 2:
            raise InputError(f"{path}: expected a (n_samples,) or (n_samples, n_leads) array, got {arr.shape}")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InputError(f"{path}: empty recording (shape {arr.shape})")
        if not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"{path}: non-numeric dtype {arr.dtype}")
        self.arr = arr
        names = tuple(f"lead{i}" for i in range(arr.shape[1]))
        self.info = SignalInfo(path, "npy", rate, int(arr.shape[0]), names,
                               select_leads(names, n_model_leads, lead, path))

    def _raw_chunks(self, chunk_samples: int) -> Iterator[np.ndarray]:
        cols = list(self.info.leads)
        for a in range(0, self.arr.shape[0], chunk_samples):
            yield np.array(self.arr[a:a + chunk_samples][:, cols], dtype=np.float64)


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


class CsvSource(SignalSource):
    """CSV/TSV text, one column per lead, optional header row of lead names; parsed in line blocks."""

    def __init__(self, path: Path, fs: float | None, n_model_leads: int | None = None, lead: str | None = None):
        if not path.is_file():
            raise InputError(f"{path}: file not found")
        rate = check_fs(fs, path, "csv")
        with open(path, encoding="utf-8-sig") as fh:
            first = ""
            for line in fh:
                if line.strip():
                    first = line.strip()
                    break
        if not first:
            raise InputError(f"{path}: empty file")
        self.delimiter = next((d for d in (",", ";", "\t") if d in first), None)
        tokens = [t.strip().strip('"') for t in (first.split(self.delimiter) if self.delimiter else first.split())]
        self.has_header = not all(_is_number(t) for t in tokens if t)
        names = tuple(tokens) if self.has_header else tuple(f"lead{i}" for i in range(len(tokens)))
        self.path = path
        self.info = SignalInfo(path, "csv", rate, None, names, select_leads(names, n_model_leads, lead, path))

    def _raw_chunks(self, chunk_samples: int) -> Iterator[np.ndarray]:
        cols = list(self.info.leads)
        with open(self.path, encoding="utf-8-sig") as fh:
            lines = (ln for ln in fh if ln.strip())
            if self.has_header:
                next(lines, None)
            row = 0
            while True:
                block = list(itertools.islice(lines, chunk_samples))
                if not block:
                    return
                try:
                    x = np.loadtxt(io.StringIO("".join(block)), delimiter=self.delimiter, ndmin=2)
                except ValueError as exc:
                    raise InputError(f"{self.path}: unparsable data near data row {row} ({exc})") from exc
                if x.shape[1] != len(self.info.lead_names):
                    raise InputError(f"{self.path}: {x.shape[1]} columns near data row {row}, "
                                     f"expected {len(self.info.lead_names)}")
                row += x.shape[0]
                yield x[:, cols]


def open_source(path: Path | str, fmt: str = "auto", fs: float | None = None, lead: str | None = None,
                n_model_leads: int | None = None) -> SignalSource:
    """Open ``path`` as a chunked source (see the module docstring); raises InputError."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"{path}: unknown format {fmt!r} (choose one of {', '.join(FORMATS)})")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "wfdb":
        return WfdbSource(path, n_model_leads, lead, fs)
    if fmt == "npy":
        return NpySource(path, fs, n_model_leads, lead)
    return CsvSource(path, fs, n_model_leads, lead)
