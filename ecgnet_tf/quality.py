"""Signal quality of recordings: windowed quality indices and the fitted gate's verdict.

    python -m ecgnet_tf.quality RECORD_OR_FOLDER [--json O.json] [--windows-csv W.csv] [--gate G.json]
                                [--lead NAME] [--fs HZ] [--format auto|wfdb|csv|npy]

RECORD_OR_FOLDER is a WFDB record (``path/100`` or ``path/100.hea``), a ``.npy`` / ``.csv`` file, or
a folder of those (every WFDB header, .npy and .csv in it). Each recording is read in chunks (any
length, bounded memory); one lead (MLII / II / ... first, see ``--lead``) is examined in windows of
the gate's length and step (10 s every 5 s by default). The JSON holds the totals
``{"windows", "rejected", "reasons": {REASON: n}, "score_mean"}`` plus one entry per recording
(``unreadable`` when at least half its windows are rejected) and the throughput. Exit 0 also when
windows are rejected; 2 on unreadable input.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from .cli import run_command
from .data.errors import DataError
from .monitor.sources import FORMATS, open_source
from .preprocess.sqi import SQI_NAMES
from .signal_quality import default_gate, gate_digest, load_gate
from .signal_quality.stream import QualitySummary, stream_quality

INPUT_SUFFIXES = (".hea", ".npy", ".csv")


def recordings(path: Path) -> list[Path]:
    """The recordings named by ``path``: itself, or every WFDB header / .npy / .csv in a folder."""
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in INPUT_SUFFIXES)
        if not found:
            raise DataError(f"{path}: no WFDB header, .npy or .csv file in this folder")
        return [p.with_suffix("") if p.suffix.lower() == ".hea" else p for p in found]
    if path.suffix.lower() == ".hea":
        return [path.with_suffix("")]
    if not path.exists() and not path.with_suffix(".hea").exists() and not Path(f"{path}.hea").exists():
        raise DataError(f"{path}: no such recording (expected a WFDB record, .npy, .csv or a folder)")
    return [path]


def examine(path: Path, gate, fmt: str = "auto", fs: float | None = None, lead: str | None = None,
            writer=None) -> dict:
    """Gate one recording; per-window rows go to ``writer`` (csv.writer) when given."""
    src = open_source(path, fmt, fs=fs, lead=lead, n_model_leads=1, min_duration_s=0.0)
    summary = QualitySummary(step_s=gate.step_s)
    t0 = time.perf_counter()
    n_read = [0]

    def chunks():
        for c in src.chunks():
            n_read[0] += c.shape[0]
            yield c[:, 0]

    for w in stream_quality(chunks(), src.info.fs, gate):
        summary.add(w)
        if writer is not None:
            writer.writerow([path.name, f"{w.start_s:.3f}", int(w.ok), f"{w.score:.4f}", "|".join(w.reasons),
                             *(f"{w.sqi[k]:.5g}" for k in SQI_NAMES)])
    elapsed = time.perf_counter() - t0
    d = summary.to_dict()
    d.update(record=str(path), lead=src.info.selected_names[0], fs=src.info.fs,
             duration_s=n_read[0] / src.info.fs,
             unreadable=bool(d["windows"] and d["rejection_rate"] >= gate.record_fraction),
             seconds=elapsed)
    d["_summary"] = summary
    return d


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.quality", description=__doc__.split("\n\n")[0])
    p.add_argument("path", type=Path, help="WFDB record, .npy/.csv file, or a folder of them")
    p.add_argument("--json", type=Path, default=None, help="write the totals and per-recording results here")
    p.add_argument("--windows-csv", type=Path, default=None, help="one row per window with every index")
    p.add_argument("--gate", type=Path, default=None, help="gate JSON (default: the shipped CinC 2017 gate)")
    p.add_argument("--format", default="auto", choices=FORMATS)
    p.add_argument("--fs", type=float, default=None, help="sampling rate in Hz (required for .csv/.npy)")
    p.add_argument("--lead", default=None, help="lead name to examine (default: MLII, II, ECG, I, V5, then the first)")
    a = p.parse_args(argv)

    def body() -> int:
        gate = load_gate(a.gate) if a.gate else default_gate()
        paths = recordings(a.path)
        total = QualitySummary(step_s=gate.step_s)
        per, seconds, duration = [], 0.0, 0.0
        fh = open(a.windows_csv, "w", newline="") if a.windows_csv else None
        try:
            writer = csv.writer(fh) if fh else None
            if writer:
                writer.writerow(["record", "start_s", "ok", "score", "reasons", *SQI_NAMES])
            for path in paths:
                d = examine(path, gate, a.format, a.fs, a.lead, writer)
                total.merge(d.pop("_summary"))
                seconds += d["seconds"]
                duration += d["duration_s"]
                per.append(d)
                print(f"{path.name}: {d['rejected']}/{d['windows']} windows rejected"
                      f"{' (unreadable)' if d['unreadable'] else ''}", file=sys.stderr)
        finally:
            if fh:
                fh.close()
        out = {**total.to_dict(), "records": per, "unreadable_records": sum(d["unreadable"] for d in per),
               "gate": {"path": str(a.gate) if a.gate else "shipped default_gate.json", "digest": gate_digest(gate),
                        "window_s": gate.window_s, "step_s": gate.step_s, "window_threshold": gate.window_threshold},
               "x_realtime": duration / seconds if seconds > 0 else None}
        text = json.dumps(out, indent=1)
        if a.json:
            a.json.parent.mkdir(parents=True, exist_ok=True)
            a.json.write_text(text + "\n")
        print(f"{out['rejected']}/{out['windows']} windows rejected ({100 * out['rejection_rate']:.1f} %), "
              f"reasons {out['reasons']}, mean score {out['score_mean']:.3f}")
        return 0

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
