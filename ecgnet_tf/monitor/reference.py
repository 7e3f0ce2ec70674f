"""Reference AF intervals from rhythm annotations, episode-level Se/PPV and onset latency.

Definitions (times in s):

* Reference AF intervals: an annotation whose aux note is ``(AFIB`` starts AF; any other rhythm
  annotation (aux note starting with ``(``, e.g. ``(N``, ``(AFL``) ends it; AF still running at the
  end of the recording ends there.
* Two intervals overlap when their intersection is longer than ``min_overlap_s`` (default 0: any
  overlap of positive length).
* Episode sensitivity = (reference AF intervals overlapped by >= 1 detected AF episode) / (reference
  AF intervals). Episode PPV = (detected AF episodes overlapping >= 1 reference AF interval) /
  (detected AF episodes). Duration sensitivity / PPV = overlapped AF time / reference (detected) AF time.
* Onset latency of a reference interval = (end of the first window classified AF, i.e. passing the
  quality gate with top class AF, whose span overlaps the interval) - (interval start): the moment
  the decision is available. Intervals starting within the first window of the recording have no
  observable onset and are excluded from the latency list (reported separately as ``excluded``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

Interval = tuple[float, float]


def rhythm_intervals(samples: Sequence[int], aux_notes: Sequence[str], fs: float, n_samples: int,
                     target: str = "(AFIB") -> list[Interval]:
    """Intervals (s) of rhythm ``target`` from rhythm-change annotations (see module docstring)."""
    out: list[Interval] = []
    start: float | None = None
    for s, note in sorted(zip(samples, aux_notes), key=lambda p: p[0]):
        note = (note or "").strip().rstrip("\x00").strip()
        if not note.startswith("("):
            continue
        t = float(s) / fs
        if note == target:
            if start is None:
                start = t
        elif start is not None:
            if t > start:
                out.append((start, t))
            start = None
    if start is not None and n_samples / fs > start:
        out.append((start, n_samples / fs))
    return out


def read_reference(record: Path, extension: str = "atr", target: str = "(AFIB") -> tuple[list[Interval], float]:
    """(AF intervals, recording duration s) from a WFDB record's annotation file ``record.extension``."""
    import wfdb

    from .sources import InputError

    record = Path(record)
    base = record.with_suffix("") if record.suffix.lower() in (".hea", ".dat") else record
    if not base.with_name(f"{base.name}.{extension}").is_file():
        raise InputError(f"{base}.{extension}: reference annotation file not found")
    h = wfdb.rdheader(str(base))
    ann = wfdb.rdann(str(base), extension)
    return rhythm_intervals(ann.sample, ann.aux_note, float(h.fs), int(h.sig_len), target), h.sig_len / float(h.fs)


def overlap_s(a: Interval, b: Interval) -> float:
    """Length (s) of the intersection of two intervals (0 when disjoint)."""
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def total_s(intervals: Sequence[Interval]) -> float:
    return float(sum(b - a for a, b in intervals))


def episode_scores(reference: Sequence[Interval], detected: Sequence[Interval], min_overlap_s: float = 0.0) -> dict:
    """Episode and duration Se/PPV (see module docstring); None where a denominator is 0."""
    hit_ref = [any(overlap_s(r, d) > min_overlap_s for d in detected) for r in reference]
    hit_det = [any(overlap_s(d, r) > min_overlap_s for r in reference) for d in detected]
    both = float(sum(overlap_s(r, d) for r in reference for d in detected))
    ref_t, det_t = total_s(reference), total_s(detected)
    return {
        "n_reference": len(reference), "n_detected": len(detected),
        "tp_reference": int(sum(hit_ref)), "tp_detected": int(sum(hit_det)),
        "episode_sensitivity": sum(hit_ref) / len(reference) if reference else None,
        "episode_ppv": sum(hit_det) / len(detected) if detected else None,
        "duration_sensitivity": both / ref_t if ref_t > 0 else None,
        "duration_ppv": both / det_t if det_t > 0 else None,
        "overlap_s": both, "reference_af_s": ref_t, "detected_af_s": det_t,
    }


def onset_latencies(reference: Sequence[Interval], af_windows: Sequence[Interval], window_s: float) -> dict:
    """Per reference interval: latency (s) to the end of the first AF window overlapping it.

    ``af_windows`` are the (start, end) spans of windows classified AF, in time order. Returns
    {"latencies_s": [float | None per counted interval], "median_s", "detected", "excluded"}.
    """
    lat: list[float | None] = []
    excluded = 0
    spans = sorted(af_windows)
    for r in reference:
        if r[0] < window_s:
            excluded += 1
            continue
        first = next((w for w in spans if overlap_s(w, r) > 0), None)
        lat.append(None if first is None else float(first[1] - r[0]))
    found = [v for v in lat if v is not None]
    return {"latencies_s": lat, "median_s": float(np.median(found)) if found else None,
            "detected": len(found), "excluded": excluded}
