"""R-peak detector benchmark on the MIT-BIH Arrhythmia Database.

    python -m ecgnet_tf.bench.rpeaks --data-dir D --out DIR [--detectors pan_tompkins,xqrs,neurokit2]
                                     [--records 100,101,...]

Each detector runs on the first channel listed in each record header; detections are matched one
to one with the reference beat annotations within 150 ms. Totals are gross (summed TP/FN/FP).
CPU time is ``time.process_time`` around the detector call only, normalised to one hour of ECG.
Writes DIR/rpeaks.json and DIR/rpeaks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..cli import add_data_dir_argument, data_dir_of
from ..data.mitdb import RECORDS

BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
MITDB_RECORDS = RECORDS  # all 48 records
TOLERANCE_S = 0.150
ALL_DETECTORS = ("pan_tompkins", "xqrs", "neurokit2")


def match_beats(ref: np.ndarray, det: np.ndarray, tol: int) -> tuple[int, int, int]:
    """One-to-one matching of detections to reference beats within ``tol`` samples.

    Each detection is paired with its left and right neighbouring reference beat; pairs within the
    tolerance are taken closest first, each beat and detection used at most once.
    Returns (tp, fn, fp).
    """
    ref = np.sort(np.asarray(ref, dtype=np.int64))
    det = np.sort(np.asarray(det, dtype=np.int64))
    if ref.size == 0 or det.size == 0:
        return 0, int(ref.size), int(det.size)
    right = np.searchsorted(ref, det)
    pd = np.concatenate([np.arange(det.size), np.arange(det.size)])
    pr = np.concatenate([right - 1, right])
    ok = (pr >= 0) & (pr < ref.size)
    pd, pr = pd[ok], pr[ok]
    dist = np.abs(det[pd] - ref[pr])
    ok = dist <= tol
    pd, pr, dist = pd[ok], pr[ok], dist[ok]
    order = np.argsort(dist, kind="stable")
    det_used = np.zeros(det.size, dtype=bool)
    ref_used = np.zeros(ref.size, dtype=bool)
    tp = 0
    for d, r in zip(pd[order].tolist(), pr[order].tolist()):  # loop over candidate pairs only
        if not det_used[d] and not ref_used[r]:
            det_used[d] = ref_used[r] = True
            tp += 1
    return tp, int(ref.size - tp), int(det.size - tp)


def _pan_tompkins() -> Callable[[np.ndarray, float], np.ndarray]:
    from ecgnet_tf.preprocess.rpeaks import pan_tompkins

    return pan_tompkins


def _xqrs() -> Callable[[np.ndarray, float], np.ndarray]:
    from wfdb import processing

    def run(x: np.ndarray, fs: float) -> np.ndarray:
        return np.asarray(processing.xqrs_detect(sig=x, fs=fs, verbose=False), dtype=np.int64)

    return run


def _neurokit2() -> Callable[[np.ndarray, float], np.ndarray]:
    import logging
    import warnings

    import neurokit2 as nk

    logging.getLogger("neurokit2").setLevel(logging.ERROR)

    def run(x: np.ndarray, fs: float) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, info = nk.ecg_peaks(x, sampling_rate=int(round(fs)))
        return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)

    return run


LOADERS = {"pan_tompkins": _pan_tompkins, "xqrs": _xqrs, "neurokit2": _neurokit2}


def vf_episodes(symbols: list[str], samples: np.ndarray, n: int) -> list[tuple[int, int]]:
    """Ventricular flutter/fibrillation episodes ('[' .. ']') as (start, end) sample pairs."""
    out, start = [], None
    for s, t in zip(symbols, samples.tolist()):
        if s == "[":
            start = t
        elif s == "]" and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, n))
    return out


def _outside(x: np.ndarray, episodes: list[tuple[int, int]]) -> np.ndarray:
    keep = np.ones(x.size, dtype=bool)
    for a, b in episodes:
        keep &= ~((x >= a) & (x <= b))
    return x[keep]


def _pct(num: int, den: int) -> float:
    return round(100.0 * num / den, 3) if den else float("nan")


def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("scipy", "wfdb", "neurokit2"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional packages
            v[mod] = None
    return v


def run_benchmark(data_dir: Path, records: list[str], detectors: list[str], progress: bool = True) -> dict:
    """Run the detectors on the records under ``data_dir/mitdb``; returns the rpeaks.json dict."""
    import wfdb
    from tqdm import tqdm

    db = Path(data_dir) / "mitdb"
    fns: dict[str, Callable] = {}
    notes: dict[str, str] = {}
    for name in detectors:
        try:
            fns[name] = LOADERS[name]()
        except ImportError as e:
            notes[name] = f"skipped: {e}"
    stats = {name: {"per_record": {}, "cpu": 0.0, "tp": 0, "fn": 0, "fp": 0, "vf": [0, 0, 0]} for name in fns}
    hours = 0.0
    for rec in tqdm(records, desc="records", disable=not progress, file=sys.stderr):
        r = wfdb.rdrecord(str(db / rec), channels=[0])
        ann = wfdb.rdann(str(db / rec), "atr")
        fs = float(r.fs)
        x = np.asarray(r.p_signal[:, 0], dtype=np.float64)
        hours += x.size / fs / 3600.0
        sym = list(ann.symbol)
        ref = ann.sample[np.array([s in BEAT_SYMBOLS for s in sym], dtype=bool)]
        episodes = vf_episodes(sym, ann.sample, x.size)
        tol = int(round(TOLERANCE_S * fs))
        for name, fn in fns.items():
            t0 = time.process_time()
            det = fn(x, fs)
            stats[name]["cpu"] += time.process_time() - t0
            tp, fn_, fp = match_beats(ref, det, tol)
            st = stats[name]
            st["tp"] += tp
            st["fn"] += fn_
            st["fp"] += fp
            st["per_record"][rec] = {"sensitivity": _pct(tp, tp + fn_), "positive_predictivity": _pct(tp, tp + fp),
                                     "tp": tp, "fn": fn_, "fp": fp}
            vtp, vfn, vfp = match_beats(_outside(ref, episodes), _outside(det, episodes), tol)
            st["vf"] = [st["vf"][0] + vtp, st["vf"][1] + vfn, st["vf"][2] + vfp]
    out: dict = {"detectors": {}}
    for name, st in stats.items():
        vtp, vfn, vfp = st["vf"]
        out["detectors"][name] = {
            "sensitivity": _pct(st["tp"], st["tp"] + st["fn"]),
            "positive_predictivity": _pct(st["tp"], st["tp"] + st["fp"]),
            "cpu_seconds_per_hour": round(st["cpu"] / hours, 4) if hours else float("nan"),
            "tp": st["tp"], "fn": st["fn"], "fp": st["fp"],
            "vf_excluded": {"sensitivity": _pct(vtp, vtp + vfn), "positive_predictivity": _pct(vtp, vtp + vfp),
                            "tp": vtp, "fn": vfn, "fp": vfp},
            "per_record": st["per_record"],
        }
    out["skipped"] = notes
    out["metadata"] = {
        "database": "MIT-BIH Arrhythmia Database (mitdb)", "records": records, "n_records": len(records),
        "hours_of_ecg": round(hours, 4), "channel": "first channel listed in each header",
        "tolerance_s": TOLERANCE_S, "beat_symbols": "".join(sorted(BEAT_SYMBOLS)),
        "totals": "gross (summed TP/FN/FP over records)",
        "vf_excluded": "same scoring with reference beats and detections inside ventricular flutter/"
                       "fibrillation episodes ('[' .. ']') removed, as ANSI/AAMI EC57 does",
        "cpu": "time.process_time around the detector call only, seconds per hour of ECG",
        "versions": _versions(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
    }
    return out


def to_markdown(res: dict) -> str:
    """Markdown report: totals table, then a per-record table."""
    dets = list(res["detectors"])
    md = ["# R-peak detection on MIT-BIH", "",
          f"{res['metadata']['n_records']} records, {res['metadata']['hours_of_ecg']:.2f} h of ECG, first channel, "
          f"tolerance {int(res['metadata']['tolerance_s'] * 1000)} ms, gross totals. "
          "Se = TP/(TP+FN), +P = TP/(TP+FP), in percent. CPU = process time of the detector call per hour of ECG.", "",
          "| detector | Se % | +P % | TP | FN | FP | Se % (VF excl.) | +P % (VF excl.) | CPU s/h |",
          "|---|---|---|---|---|---|---|---|---|"]
    for d in dets:
        r = res["detectors"][d]
        v = r["vf_excluded"]
        md.append(f"| {d} | {r['sensitivity']:.3f} | {r['positive_predictivity']:.3f} | {r['tp']} | {r['fn']} | "
                  f"{r['fp']} | {v['sensitivity']:.3f} | {v['positive_predictivity']:.3f} | "
                  f"{r['cpu_seconds_per_hour']:.3f} |")
    md += ["", "VF excl.: beats and detections inside ventricular flutter/fibrillation episodes ('[' .. ']', record "
           "207) are not scored, as in ANSI/AAMI EC57; the main columns score everything.", ""]
    for name, note in res.get("skipped", {}).items():
        md.append(f"- {name}: {note}")
    md += ["", "## Per record", "",
           "| record | " + " | ".join(f"{d} Se | {d} +P | {d} FN | {d} FP" for d in dets) + " |",
           "|---|" + "---|" * (4 * len(dets))]
    for rec in res["metadata"]["records"]:
        cells = []
        for d in dets:
            p = res["detectors"][d]["per_record"][rec]
            cells += [f"{p['sensitivity']:.2f}", f"{p['positive_predictivity']:.2f}", str(p["fn"]), str(p["fp"])]
        md.append(f"| {rec} | " + " | ".join(cells) + " |")
    return "\n".join(md) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir_argument(ap)
    ap.add_argument("--out", type=Path, required=True, help="output folder for rpeaks.json and rpeaks.md")
    ap.add_argument("--detectors", default=",".join(ALL_DETECTORS))
    ap.add_argument("--records", default=",".join(MITDB_RECORDS))
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    data_dir = data_dir_of(a)
    detectors = [d.strip() for d in a.detectors.split(",") if d.strip()]
    unknown = sorted(set(detectors) - set(LOADERS))
    if unknown:
        ap.error(f"unknown detector(s) {unknown}; choose from {list(LOADERS)}")
    records = [r.strip() for r in a.records.split(",") if r.strip()]
    missing = [r for r in records if not (data_dir / "mitdb" / f"{r}.hea").is_file()]
    if missing:
        ap.error(f"records not found under {data_dir / 'mitdb'}: {missing}")
    res = run_benchmark(data_dir, records, detectors, progress=not a.no_progress)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "rpeaks.json").write_text(json.dumps(res, indent=2) + "\n")
    (a.out / "rpeaks.md").write_text(to_markdown(res))
    for d, r in res["detectors"].items():
        print(f"{d}: Se {r['sensitivity']:.3f}%  +P {r['positive_predictivity']:.3f}%  "
              f"CPU {r['cpu_seconds_per_hour']:.3f} s/h")
    for d, note in res["skipped"].items():
        print(f"{d}: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
