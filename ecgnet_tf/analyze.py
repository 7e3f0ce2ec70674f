"""Continuous ECG monitoring of a recording of any length: rhythm episodes, AF burden, routing.

    python -m ecgnet_tf.analyze PATH --model RUN_DIR_OR_MODEL.tflite [--run RUN_DIR] [--out DIR]
        [--fs HZ] [--format auto|wfdb|csv|npy] [--lead NAME] [--reference-annotations atr]
        [--auto-report 0.95] [--review 0.85] [--beat-model MITDB_RUN_DIR]

PATH: a WFDB record (path without extension, or its .hea), a CSV (one column per lead, optional
header of lead names; --fs required) or a NumPy .npy of shape (n,) or (n, leads) (--fs required;
memory-mapped). The file is streamed in chunks; see ``ecgnet_tf.monitor`` for the processing.
Writes DIR/report.json, DIR/episodes.csv, DIR/windows.csv, DIR/report.html (and DIR/beats.csv with
--beat-model). Input problems end with one ``error:`` line and exit code 2. A thin shell over
:func:`ecgnet_tf.monitor.batch.analyze_recording`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import ecgnet_tf  # noqa: F401  (sets the Keras environment before TensorFlow is imported)

from .data.errors import DataError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.analyze",
                                description=__doc__.splitlines()[0])
    p.add_argument("path", type=Path, help="WFDB record, .csv or .npy")
    p.add_argument("--model", default=None,
                   help="rhythm model: 'rhythm' (the shipped pretrained model, the default), a cinc2017 run folder, "
                   "a .tflite, or 'rr-rule' (model-free RR-irregularity baseline, no TensorFlow)")
    p.add_argument("--run", type=Path, default=None, help="run folder for a .tflite whose sidecar lacks metadata")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: ./<name>_monitor)")
    p.add_argument("--fs", type=float, default=None, help="sampling rate in Hz (required for csv / npy)")
    p.add_argument("--format", default="auto", help="auto | wfdb | csv | npy")
    p.add_argument("--lead", default=None, help="lead name (or 0-based column) for single-lead models")
    p.add_argument("--reference-annotations", default=None, metavar="EXT",
                   help="WFDB annotation extension with rhythm notes (e.g. atr) for Se/PPV/onset latency")
    p.add_argument("--auto-report", type=float, default=0.95, help="probability for auto-report (default 0.95)")
    p.add_argument("--review", type=float, default=0.85, help="probability for cardiologist review (default 0.85)")
    p.add_argument("--beat-model", default=None,
                   help="'beats' (shipped pretrained, the default when --model is not given), a mitdb-aami run "
                   "folder or .tflite: adds a per-beat table; 'none' for no beat table")
    p.add_argument("--max-gap-windows", type=int, default=1,
                   help="episode rule (ignored when the run has validated AF smoothing, see --no-smoothing)")
    p.add_argument("--min-episode-windows", type=int, default=1, help="episode rule (as --max-gap-windows)")
    p.add_argument("--no-smoothing", action="store_true",
                   help="ignore the run's validated AF smoothing (af_smoothing.json): decide each window alone")
    p.add_argument("--no-html", action="store_true", help="skip report.html")
    p.add_argument("--no-quality-gate", action="store_true",
                   help="only the preprocessing checks, not the fitted signal-quality gate (ecgnet_tf.signal_quality)")
    p.add_argument("--quality-gate", type=Path, default=None, help="gate JSON instead of the shipped one")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .monitor.batch import AnalyzeRequest, analyze_recording

    req = AnalyzeRequest(**{f.name: getattr(args, f.name) for f in dataclasses.fields(AnalyzeRequest)})
    try:
        rep, out = analyze_recording(req)
    except (DataError, FileNotFoundError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    keys = ("duration_s", "af_burden_pct", "af_episode_count", "longest_af_episode_s", "episode_sensitivity",
            "episode_ppv")
    summary = {k: rep[k] for k in keys if k in rep}
    summary["rejected_windows"] = rep["rejected_windows"]
    summary["routing"] = rep["routing"]["overall"]
    summary["out"] = str(out)
    print(json.dumps(summary, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
