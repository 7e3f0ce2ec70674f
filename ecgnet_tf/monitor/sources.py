"""Chunked readers for long recordings (WFDB, CSV, NumPy .npy) with input validation.

A source never loads the whole recording: WFDB is read with ``wfdb.rdrecord(sampfrom, sampto)``,
``.npy`` is memory-mapped and sliced, CSV is parsed a block of lines at a time. Every chunk is
(n, C) float64 in the file's units (mV expected) at the source's sampling rate ``fs`` (Hz).
Problems raise :class:`InputError` with a one-line message that names the file.

Opening a source also checks, from a few short excerpts (never the whole file), that

* the recording is at least ``min_duration_s`` long (default :data:`MIN_DURATION_S`): the rhythm
  models analyse 10-s windows, a shorter record is zero-padded to one window, and the quality gate
  rejects a window with 1 s or more of constant samples (``QualityConfig.flat_run_s``) as FLAT_LINE,
  so a record under 10 - 1 = 9 s can never be analysed;
* the amplitudes are plausible for an ECG in millivolts: a lead whose robust amplitude (99th
  percentile of ``|x - median|``, median over the excerpts) exceeds :data:`MAX_AMPLITUDE_MV` is taken
  for microvolts or raw ADC counts (every window would otherwise be rejected as SATURATION).
"""
from __future__ import annotations

import io
import itertools
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..data.errors import DataError

FORMATS: tuple[str, ...] = ("auto", "wfdb", "csv", "npy")
#: Plausible sampling-rate range in Hz; anything outside is rejected as a probable unit mistake.
FS_RANGE_HZ: tuple[float, float] = (50.0, 10_000.0)
#: Lead names tried, in order, when a single-lead model meets a multi-lead recording.
PREFERRED_LEADS: tuple[str, ...] = ("II", "MLII", "ML2", "ECG", "I", "V5")
#: Rhythm-model analysis window (s); records shorter than one window are zero-padded to it.
WINDOW_S: float = 10.0
#: Shortest recording (s) accepted by default: one window less the 1 s of zero padding the quality
#: gate tolerates (``QualityConfig.flat_run_s``); see the module docstring.
MIN_DURATION_S: float = 9.0
#: Robust amplitude (mV) above which a lead is taken for microvolts / ADC counts. A surface ECG's
#: 99th percentile of |x - median| is about 0.2..3 mV (the quality gate's SATURATION limit is 5 mV);
#: the same ECG in microvolts or ADC counts (gain ~200..1000 per mV) is 100..3000.
MAX_AMPLITUDE_MV: float = 20.0
#: Excerpts examined for the amplitude check: at most this many, each EXCERPT_S seconds, spread
#: evenly over the recording (CSV, whose length is unknown, only reads its first HEAD_S seconds).
N_EXCERPTS: int = 6
EXCERPT_S: float = 10.0
HEAD_S: float = 60.0


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


def _duration_text(n: int, fs: float) -> str:
    """'3.3 s' (rounded down, so it never reaches the limit it is compared with) or '1 sample (0.001 s)'."""
    sec = n / fs
    if sec >= 1:
        return f"{np.floor(sec * 10) / 10:g} s"
    return f"{n} sample{'s' if n != 1 else ''} ({sec:.3g} s)"


def check_duration(n: int, fs: float, path: Path, min_duration_s: float) -> None:
    """Raise InputError when ``n`` samples at ``fs`` Hz are fewer than ``min_duration_s`` seconds."""
    if n <= 0:
        raise InputError(f"{path}: empty recording (no samples)")
    if n < min_duration_s * fs:
        raise InputError(f"{path}: too short: the recording is {_duration_text(n, fs)} long; at least "
                         f"{min_duration_s:g} s are needed (the rhythm models analyse {WINDOW_S:g}-s windows)")


def robust_amplitude(x: np.ndarray) -> np.ndarray:
    """Per-lead 99th percentile of ``|x - median|`` of an (n, C) block, ignoring non-finite samples
    (NaN for a lead without finite samples)."""
    x = np.asarray(x, dtype=np.float64)
    x = np.where(np.isfinite(x), x, np.nan)
    if x.shape[0] == 0 or np.all(np.isnan(x)):
        return np.full(x.shape[1], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN lead
        return np.nanpercentile(np.abs(x - np.nanmedian(x, axis=0)), 99, axis=0)


def check_amplitude(excerpts: Sequence[np.ndarray], names: Sequence[str], path: Path,
                    require_all: bool = False, limit_mv: float = MAX_AMPLITUDE_MV) -> None:
    """Raise InputError when a lead's amplitude says the input is not in millivolts.

    ``excerpts``: (n, C) blocks of the selected leads (``names``). A lead fails when the median over
    excerpts of :func:`robust_amplitude` exceeds ``limit_mv``. With ``require_all`` (no lead chosen for
    a model yet, e.g. a recording that also holds non-ECG channels) only when every lead fails.
    """
    blocks = [np.asarray(b, dtype=np.float64) for b in excerpts if len(b)]
    if not blocks:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        amp = np.nanmedian(np.stack([robust_amplitude(b) for b in blocks]), axis=0)
    bad = np.flatnonzero(np.nan_to_num(amp, nan=0.0) > limit_mv)
    if bad.size == 0 or (require_all and bad.size < len(names)):
        return
    j = int(bad[0])
    col = np.concatenate([b[:, j] for b in blocks])
    top = float(np.max(np.abs(col[np.isfinite(col)])))
    raise InputError(f"{path}: lead {names[j]!r} has values up to {top:.4g}: the input looks like microvolts or "
                     f"ADC counts; ecgnet expects millivolts (divide by 1000, or by the ADC gain)")


def excerpt_ranges(n: int, fs: float) -> list[tuple[int, int]]:
    """Up to N_EXCERPTS (start, stop) sample ranges of EXCERPT_S seconds spread evenly over ``n`` samples."""
    w = max(1, int(round(EXCERPT_S * fs)))
    if n <= w * N_EXCERPTS:  # short recording: all of it
        return [(a, min(n, a + w)) for a in range(0, n, w)]
    starts = np.linspace(0, n - w, N_EXCERPTS).astype(np.int64)
    return [(int(a), int(a) + w) for a in starts]


class SignalSource:
    """Base class: ``info`` plus :meth:`chunks` yielding validated (n, C) float64 blocks."""

    info: SignalInfo

    def _check_amplitude(self, excerpts: Sequence[np.ndarray], n_model_leads: int | None, lead: str | None) -> None:
        """Amplitude check of the selected leads at open time (every lead must fail while no lead
        has been chosen for a model, so a recording with extra non-ECG channels can still be probed)."""
        check_amplitude(excerpts, self.info.selected_names, self.info.path,
                        require_all=n_model_leads is None and lead is None)

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
                 fs: float | None = None, min_duration_s: float = MIN_DURATION_S):
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
        check_duration(int(h.sig_len), rate, base, min_duration_s)
        self._check_amplitude([self._read(a, b) for a, b in excerpt_ranges(int(h.sig_len), rate)],
                              n_model_leads, lead)

    def _read(self, a: int, b: int) -> np.ndarray:
        import wfdb

        try:
            rec = wfdb.rdrecord(str(self.base), sampfrom=a, sampto=b, channels=list(self.info.leads))
        except Exception as exc:
            raise InputError(f"{self.base}: cannot read samples {a}..{b} ({exc})") from exc
        return rec.p_signal

    def _raw_chunks(self, chunk_samples: int) -> Iterator[np.ndarray]:
        n = self.info.n_samples or 0
        for a in range(0, n, chunk_samples):
            yield self._read(a, min(n, a + chunk_samples))


class NpySource(SignalSource):
    """A memory-mapped .npy of shape (n,) or (n, C); (C, n) with C <= 16 < n is read transposed."""

    def __init__(self, path: Path, fs: float | None, n_model_leads: int | None = None, lead: str | None = None,
                 min_duration_s: float = MIN_DURATION_S):
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
        check_duration(int(arr.shape[0]), rate, path, min_duration_s)
        cols = list(self.info.leads)
        self._check_amplitude([np.array(arr[a:b][:, cols], dtype=np.float64)
                               for a, b in excerpt_ranges(int(arr.shape[0]), rate)], n_model_leads, lead)

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

    def __init__(self, path: Path, fs: float | None, n_model_leads: int | None = None, lead: str | None = None,
                 min_duration_s: float = MIN_DURATION_S):
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
        # the length is unknown without reading the whole file: check the first HEAD_S seconds
        head_n = int(np.ceil(max(HEAD_S, min_duration_s) * rate))
        head = next(self._raw_chunks(head_n), np.zeros((0, len(self.info.leads))))
        if head.shape[0] < head_n:  # the whole file
            check_duration(head.shape[0], rate, path, min_duration_s)
        self._check_amplitude([head[a:b] for a, b in excerpt_ranges(head.shape[0], rate)], n_model_leads, lead)

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
                n_model_leads: int | None = None, min_duration_s: float = MIN_DURATION_S) -> SignalSource:
    """Open ``path`` as a chunked source (see the module docstring); raises InputError.

    ``min_duration_s``: shortest recording accepted (s); 0 accepts any non-empty recording.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"{path}: unknown format {fmt!r} (choose one of {', '.join(FORMATS)})")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "wfdb":
        return WfdbSource(path, n_model_leads, lead, fs, min_duration_s)
    if fmt == "npy":
        return NpySource(path, fs, n_model_leads, lead, min_duration_s)
    return CsvSource(path, fs, n_model_leads, lead, min_duration_s)
