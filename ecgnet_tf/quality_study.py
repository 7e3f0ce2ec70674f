"""The signal-quality study: fit and validate the quality gate, write the shipped gate and the report.

    python -m ecgnet_tf.quality_study [--data-dir D] [--out docs/results/quality]
        [--stages cinc,fit,mitdb,robustness,throughput,report] [--quick]
        [--rhythm-root runs/cinc-cv] [--beat-run runs/beat-study/final-s0] [--rhythm-run runs/cinc-cv/f0]

Stages (each writes one JSON into OUT, the report reads them):

1. ``cinc``: 5-fold cross-validation on CinC 2017 (patient-grouped folds of the rhythm study): the
   gate is fitted on each fold's training + validation records and scored on its test records
   (sensitivity for ``~``, false rejection of N/A/O), and the rhythm study's record decisions
   (``RHYTHM_ROOT/fI/record_model/predictions.npz``, when present) are rescored with the flagged
   records answered ``~`` -> ``cinc_cv.json``.
2. ``fit``: the shipped gate, one fit on the default split's training + validation records ->
   ``ecgnet_tf/signal_quality/default_gate.json`` (not with ``--quick``) and ``OUT/gate.json``.
3. ``mitdb``: the gate's window rejection on every MIT-BIH record -> ``mitdb.json``.
4. ``robustness``: the MIT-BIH beat model and the CinC rhythm model on test records with noise
   added at 24, 18, 12, 6, 0 dB, with and without the gate -> ``robustness_{beats,rhythm}.json``.
5. ``throughput``: a 24-h synthetic recording through the gate (time, memory) -> ``throughput.json``.
6. ``report``: ``summary.json`` (``{"cinc_noisy_sensitivity", "cinc_false_rejection",
   "mitdb_rejection", ...}``), ``report.md`` and figures.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli import add_data_dir_argument, run_command
from .data.errors import DataError

STAGES = ("cinc", "fit", "mitdb", "robustness", "throughput", "report")
SNRS_DB: tuple[float, ...] = (24.0, 18.0, 12.0, 6.0, 0.0)
#: seconds of each MIT-BIH DS2 record in the robustness curves (16 conditions x 22 records)
BEAT_SECONDS = 300.0
#: CinC test records (stratified sample of fold 0's test fold) in the robustness curves
RHYTHM_RECORDS = 300
QUICK = {"cinc_records": 400, "folds": 3, "mitdb": 2, "beat_records": 2, "beat_seconds": 60.0,
         "rhythm_records": 12, "snrs": (6.0,), "kinds": ("gaussian",), "hours": 0.25}


def _stratified(ids: list[str], labels: dict, n: int, seed: int = 0) -> list[str]:
    from .data.splits import stratified_sample

    return sorted(stratified_sample(ids, [labels[i] for i in ids], n, seed)) if len(ids) > n else sorted(ids)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.quality_study", description=__doc__.splitlines()[0])
    add_data_dir_argument(p)
    p.add_argument("--out", type=Path, default=Path("docs/results/quality"))
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    p.add_argument("--rhythm-root", type=Path, default=Path("runs/cinc-cv"),
                   help="the rhythm study's runs (record decisions per fold), optional")
    p.add_argument("--beat-run", type=Path, default=Path("runs/beat-study/final-s0"), help="MIT-BIH reference run")
    p.add_argument("--rhythm-run", type=Path, default=Path("runs/cinc-cv/f0"), help="CinC 2017 reference run")
    p.add_argument("--beat-seconds", type=float, default=BEAT_SECONDS)
    p.add_argument("--rhythm-records", type=int, default=RHYTHM_RECORDS)
    p.add_argument("--hours", type=float, default=24.0, help="length of the synthetic throughput recording")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="smoke study on sampled records: not a result")
    a = p.parse_args(argv)

    def body() -> None:
        from .atomic import write_json
        from .bench import quality_gate_eval as qe
        from .bench import quality_report
        from .cli import data_dir_of
        from .data import cinc2017
        from .signal_quality import DEFAULT_GATE_PATH, default_gate, load_gate, save_gate
        from .signal_quality.fit import GateFitConfig
        from .signal_quality.noise import NOISE_KINDS
        from .tasks.windows import default_cache_dir

        stages = [s for s in a.stages.split(",") if s]
        bad = [s for s in stages if s not in STAGES]
        if bad:
            raise ValueError(f"unknown stages {bad}; choose from {', '.join(STAGES)}")
        data_dir = data_dir_of(a)
        cache = a.cache_dir or default_cache_dir()
        out = a.out
        out.mkdir(parents=True, exist_ok=True)
        log = lambda m: print(f"[quality-study] {m}", flush=True)  # noqa: E731
        cinc_ids = None
        if a.quick:
            labels = cinc2017.read_reference(data_dir)
            cinc_ids = _stratified(sorted(labels), labels, QUICK["cinc_records"])
        cfg = GateFitConfig()
        if "cinc" in stages:
            res = qe.cinc_cross_validation(data_dir, cache, QUICK["folds"] if a.quick else 5, cfg,
                                           None if a.quick else a.rhythm_root, cinc_ids, log)
            write_json(out / "cinc_cv.json", res, indent=1)
        if "fit" in stages:
            gate, _ = qe.fit_shipped_gate(data_dir, cache, cfg, cinc_ids)
            if not a.quick:
                save_gate(gate, DEFAULT_GATE_PATH)
                log(f"shipped gate -> {DEFAULT_GATE_PATH}")
            save_gate(gate, out / "gate.json")
        gate_path = out / "gate.json"
        gate = load_gate(gate_path) if gate_path.is_file() else default_gate()
        if "mitdb" in stages:
            from .data import mitdb

            recs = mitdb.available_records(data_dir, include_paced=True)
            res = qe.mitdb_rejection(data_dir, cache, gate, recs[:QUICK["mitdb"]] if a.quick else recs)
            write_json(out / "mitdb.json", res, indent=1)
            log(f"MIT-BIH rejection {100 * res['total_rejection']:.2f} %, worst {res['worst'][:5]}")
        if "robustness" in stages:
            from .bench.quality_robustness import beat_robustness, conditions, rhythm_robustness
            from .runs import load_split

            kinds, snrs = (QUICK["kinds"], QUICK["snrs"]) if a.quick else (NOISE_KINDS, SNRS_DB)
            conds = conditions(kinds, snrs)
            for run, name in ((a.beat_run, "beat"), (a.rhythm_run, "rhythm")):
                if not (run / "model.keras").is_file():
                    raise DataError(f"{run}: no trained model for the {name} robustness curves "
                                    f"(pass --{name}-run RUN)")
            test = list(load_split(a.beat_run).test)
            recs = test[:QUICK["beat_records"]] if a.quick else test
            secs = QUICK["beat_seconds"] if a.quick else a.beat_seconds
            rows = beat_robustness(a.beat_run, data_dir, recs, conds, gate, secs)
            write_json(out / "robustness_beats.json", {"run": str(a.beat_run), "records": recs, "rows": rows,
                                                       "note": f"{len(recs)} test records, first {secs:g} s of each"},
                       indent=1)
            labels = cinc2017.read_reference(data_dir)
            test = list(load_split(a.rhythm_run).test)
            recs = _stratified(test, labels, QUICK["rhythm_records"] if a.quick else a.rhythm_records)
            rows = rhythm_robustness(a.rhythm_run, data_dir, recs, conds, gate)
            write_json(out / "robustness_rhythm.json", {"run": str(a.rhythm_run), "records": recs, "rows": rows,
                                                        "note": f"stratified sample of {len(recs)} of its "
                                                                f"{len(test)} test records"}, indent=1)
        if "throughput" in stages:
            res = qe.throughput(gate, QUICK["hours"] if a.quick else a.hours)
            write_json(out / "throughput.json", res, indent=1)
            log(f"throughput {res['x_realtime_cpu']:.0f}x real time, peak {res['peak_traced_mb']:.1f} MiB")
        if "report" in stages:
            s = quality_report.write_report(out, a.quick)
            log(f"report -> {out / 'report.md'}: " + json.dumps({k: s.get(k) for k in (
                "cinc_noisy_sensitivity", "cinc_false_rejection", "mitdb_rejection", "throughput_x_realtime")}))

    return run_command(body, (DataError, FileNotFoundError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
