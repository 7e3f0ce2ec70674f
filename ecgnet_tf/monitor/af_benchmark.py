"""AF monitoring figures on the MIT-BIH Arrhythmia records that contain atrial fibrillation.

    python -m ecgnet_tf.monitor.af_benchmark --model RUN_DIR|M.tflite|rr-rule --data-dir D \
        --out docs/results/monitor [--records 201,202,203,210,219,221,222] [--run RUN_DIR]

For each record (lead MLII, 360 Hz) the analyser runs with the record's rhythm annotations as the
reference (definitions in ecgnet_tf.monitor.reference). Writes OUT/af_benchmark.json and
OUT/af_benchmark.md (per-record and pooled episode Se/PPV, duration Se/PPV, median onset latency,
AF burden vs reference burden, rejection rate) and OUT/records/<id>/ with each record's report.
Pooled figures: episode Se = sum of detected reference episodes / sum of reference episodes, PPV
likewise over detected episodes; the latency median is over all records' onsets.
Note: MIT-BIH is not CinC 2017, so a cinc2017 model is evaluated out of distribution here.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import ecgnet_tf  # noqa: F401

from ..claims import PAPER_CLAIMS
from ..data.errors import DataError

AF_RECORDS: tuple[str, ...] = ("201", "202", "203", "210", "219", "221", "222")


def _classifier(model: str, run: Path | None):
    if model == "rr-rule":
        from .rule import RRRuleClassifier, rule_spec

        return RRRuleClassifier(rule_spec())
    from .classifiers import load_classifier

    return load_classifier(Path(model), run)


def record_row(rid: str, rep: dict) -> dict:
    """The figures of one record's report."""
    ref = rep["reference"]
    lat = ref["onset_latency_s"]
    return {"record": rid, "duration_min": round(rep["duration_s"] / 60, 2),
            "n_reference": ref["n_reference"], "n_detected": ref["n_detected"],
            "tp_reference": ref["tp_reference"], "tp_detected": ref["tp_detected"],
            "episode_sensitivity": ref["episode_sensitivity"], "episode_ppv": ref["episode_ppv"],
            "duration_sensitivity": ref["duration_sensitivity"], "duration_ppv": ref["duration_ppv"],
            "latencies_s": lat["latencies_s"], "onsets_excluded": lat["excluded"],
            "median_latency_s": lat["median_s"], "af_burden_pct": rep["af_burden_pct"],
            "reference_af_burden_pct": ref["reference_af_burden_pct"],
            "windows": rep["windows"]["count"], "rejected": rep["rejected_windows"]["count"],
            "rejection_rate": rep["rejected_windows"]["fraction"],
            "rejected_by_reason": rep["rejected_windows"]["by_reason"]}


def pooled(rows: list[dict]) -> dict:
    """Pooled figures over records (see the module docstring)."""
    def ratio(a: str, b: str) -> float | None:
        den = sum(r[b] for r in rows)
        return sum(r[a] for r in rows) / den if den else None

    lat = [v for r in rows for v in r["latencies_s"] if v is not None]
    missed = sum(1 for r in rows for v in r["latencies_s"] if v is None)
    err = [abs(r["af_burden_pct"] - r["reference_af_burden_pct"]) for r in rows if r["af_burden_pct"] is not None]
    det_min = sum((r["af_burden_pct"] or 0.0) / 100.0 * r["duration_min"] for r in rows)
    ref_min = sum(r["reference_af_burden_pct"] / 100.0 * r["duration_min"] for r in rows)
    return {"records": len(rows), "hours": sum(r["duration_min"] for r in rows) / 60.0,
            "af_minutes_detected": det_min, "af_minutes_reference": ref_min,
            "episode_sensitivity": ratio("tp_reference", "n_reference"),
            "episode_ppv": ratio("tp_detected", "n_detected"),
            "median_onset_latency_s": float(np.median(lat)) if lat else None, "n_onsets_timed": len(lat),
            "n_onsets_missed": missed, "mean_abs_burden_error_pct": float(np.mean(err)) if err else None,
            "rejection_rate": ratio("rejected", "windows"),
            "paper_claim_median_onset_latency_s": PAPER_CLAIMS["monitoring"]["af_onset_latency_s"]}


def _f(v, nd: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def markdown(summary: dict) -> str:
    rows, tot = summary["per_record"], summary["overall"]
    out = ["# AF monitoring on MIT-BIH AF records", "",
           f"Model: `{summary['model']}` (task {summary['task']}). Data: `{summary['data_dir']}`, lead MLII.",
           "Reference: rhythm annotations in `.atr` ('(AFIB' starts AF, any other rhythm ends it). Episode Se/PPV"
           " by any overlap; onset latency = end of the first window classified AF overlapping the reference"
           " episode minus its onset (onsets in the first 10 s are not timed). Burden: % of analysable time"
           " (detected) vs % of the record (reference).", "",
           "| record | min | ref ep | det ep | ep Se | ep PPV | dur Se | dur PPV | median latency s | AF burden % |"
           " ref burden % | rejected % |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['record']} | {r['duration_min']:.1f} | {r['n_reference']} | {r['n_detected']} | "
                   f"{_f(r['episode_sensitivity'])} | {_f(r['episode_ppv'])} | {_f(r['duration_sensitivity'])} | "
                   f"{_f(r['duration_ppv'])} | {_f(r['median_latency_s'], 1)} | {_f(r['af_burden_pct'], 1)} | "
                   f"{_f(r['reference_af_burden_pct'], 1)} | {_f(100 * (r['rejection_rate'] or 0), 1)} |")
    out += ["", "## Overall (pooled)", "",
            f"- episode sensitivity: {_f(tot['episode_sensitivity'])}, episode PPV: {_f(tot['episode_ppv'])}",
            f"- median onset latency: {_f(tot['median_onset_latency_s'], 1)} s over {tot['n_onsets_timed']} timed "
            f"onsets ({tot['n_onsets_missed']} reference onsets never alarmed); paper claim: "
            f"{tot['paper_claim_median_onset_latency_s']} s (claim, not measured)",
            f"- mean |AF burden - reference burden|: {_f(tot['mean_abs_burden_error_pct'], 1)} percentage points",
            f"- AF time: {_f(tot['af_minutes_detected'], 1)} min detected vs {_f(tot['af_minutes_reference'], 1)} min "
            f"in the reference, over {_f(tot['hours'], 1)} h",
            f"- quality-gate rejection rate: {_f(100 * (tot['rejection_rate'] or 0), 1)} % of windows",
            "- AF decisions: " + (f"validated smoothing {summary['smoothing']} (the run's af_smoothing.json, chosen "
                                  "on its CinC validation records)" if summary.get("smoothing") else
                                  "each window alone (argmax)")
            + (f"; each window decided by the run's record model on the last {summary['smoothing']['context_s']:g} s "
               "of the stream" if (summary.get("smoothing") or {}).get("context_s") else ""), ""]
    if summary.get("note"):
        out += [summary["note"], ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.monitor.af_benchmark", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="cinc2017 run folder, .tflite, or rr-rule")
    p.add_argument("--run", type=Path, default=None, help="run folder for a .tflite without sidecar metadata")
    p.add_argument("--data-dir", type=Path, required=True, help="folder holding mitdb/")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder (the committed figures live in docs/results/monitor: name it to regenerate them)")
    p.add_argument("--records", default=",".join(AF_RECORDS))
    p.add_argument("--html", action="store_true", help="also write each record's report.html")
    p.add_argument("--note", default="", help="a line added to the Markdown (e.g. 'quick smoke run')")
    p.add_argument("--summary-only", action="store_true",
                   help="write only af_benchmark.json / .md (no per-record folders)")
    p.add_argument("--no-quality-gate", action="store_true",
                   help="only the preprocessing checks, not the fitted signal-quality gate")
    p.add_argument("--no-smoothing", action="store_true",
                   help="ignore the run's validated AF smoothing (af_smoothing.json): decide each window alone")
    p.add_argument("--network-only", action="store_true",
                   help="when the run's validated decisions use its record model (context_s), use the network's own "
                        "validated smoothing instead (chosen on the same validation streams)")
    args = p.parse_args(argv)
    from .batch import analyze, run_context, run_smoothing
    from .config import MonitorConfig
    from .sources import open_source

    try:
        clf = _classifier(args.model, args.run)
        smoothing = (None if args.no_smoothing or args.model == "rr-rule"
                     else run_smoothing(args.model, args.run, network_only=args.network_only))
        context = run_context(args.model, args.run, smoothing)
        rows = []
        scratch = tempfile.TemporaryDirectory() if args.summary_only else None
        rec_root = Path(scratch.name) if scratch else args.out / "records"
        for rid in args.records.split(","):
            src = open_source(args.data_dir / "mitdb" / rid, "wfdb", lead="MLII", n_model_leads=clf.spec.n_leads)
            rep = analyze(src, clf, MonitorConfig(fs=src.info.fs, smoothing=smoothing, context=context,
                                                    use_quality_gate=not args.no_quality_gate), rec_root / rid,
                          reference_ext="atr", model_source=str(args.model), html=args.html)
            rows.append(record_row(rid, rep))
            print(f"{rid}: Se {rows[-1]['episode_sensitivity']} PPV {rows[-1]['episode_ppv']} "
                  f"latency {rows[-1]['median_latency_s']} burden {rows[-1]['af_burden_pct']} "
                  f"(ref {rows[-1]['reference_af_burden_pct']:.1f})", file=sys.stderr)
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    summary = {"model": str(args.model), "task": clf.spec.task, "data_dir": str(args.data_dir),
               "smoothing": smoothing.to_dict() if smoothing else None,
               "per_record": rows, "overall": pooled(rows), "note": args.note}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "af_benchmark.json").write_text(json.dumps(summary, indent=2, default=float))
    (args.out / "af_benchmark.md").write_text(markdown(summary))
    print(json.dumps(summary["overall"], indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
