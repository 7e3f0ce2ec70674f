"""The CinC 2017 rhythm study: 5-fold cross-validation of the network and the record model, and its report.

    python -m ecgnet_tf.rhythm_study [--data-dir D] [--root runs/cinc-cv] [--out docs/results/cinc2017]
                                     [--stages train,records,report] [--folds 5] [--quick]

Stages (each training is one ``python -m ecgnet_tf.train`` process; a run whose ``metrics.json``
exists is reused and one with a checkpoint resumed, so an interrupted study continues):

1. ``train``: the network (``edge-rhythm``: waveform + window rhythm features) on each fold of the
   stratified, patient-grouped 5-fold split (``--split kfold``): fold I is the test fold, fold I+1
   the validation fold (early stopping, model choice), the rest training. Each run's ``metrics.json``
   holds the network's own record-level figures (its windows' softmax averaged per record).
2. ``records``: each fold's record model (:mod:`ecgnet_tf.training.record_model`): trees on
   whole-record features fitted on the fold's training records, settings and the fusion with the
   network chosen on its validation records, then one score on its test records
   (``RUN/record_model/metrics.json``).
2b. ``variants``: record-model experiments (:func:`record_model_variants`: the record model without
   the RR-structure features and the class weighting, as it was before them), fitted per fold beside the study's
   record model into ``RUN/record_model-<name>/``; the report's experiment table compares their
   validation figures (what decides) and test figures.
3. ``monitor``: each fold's AF smoothing for the streaming monitor (:mod:`ecgnet_tf.monitor.smoothing_fit`)
   chosen on its validation records (``RUN/af_smoothing.json``), then the reference run (fold 0) on
   the MIT-BIH AF records (episodes, latency, burden) and on the MIT-BIH records without AF (false
   AF time), with and without the smoothing: ``MONITOR_OUT/cinc2017-edge-rhythm*/``.
4. ``report``: ``OUT/summary.json`` (``{"folds": [...], "mean": {"challenge_f1", "A_f1"}, ...}``),
   ``OUT/report.md``, ``OUT/cinc2017.png`` and each fold's small files, generated from the run folders
   (:mod:`ecgnet_tf.bench.rhythm_report`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import add_data_dir_argument, run_command
from .data.errors import DataError
from .training.launch import train_in_subprocess

STAGES = ("train", "records", "variants", "monitor", "report")
#: the run whose figures stand for the study where one model is needed (the monitor benchmark)
REFERENCE_FOLD = 0
FOLDS = 5
#: training schedule of every fold (the network)
SCHEDULE: tuple[str, ...] = ("--task", "cinc2017", "--config", "edge-rhythm", "--split", "kfold", "--epochs", "8",
                             "--patience", "3", "--monitor", "val_macro_f1")
#: smoke version (tests, CI): a seeded sample of records, capped windows, one epoch
QUICK: tuple[str, ...] = ("--quick", "--epochs", "1")


def record_model_variants() -> dict[str, dict]:
    """Record-model experiments (changes to ``RecordModelConfig``), each fitted in every fold into
    ``RUN/record_model-<name>/`` beside the run's own record model, for the report's experiment table;
    they never replace the study's decision."""
    from .preprocess.record_features import RECORD_FEATURE_NAMES, RR_STRUCTURE_NAMES

    earlier = tuple(n for n in RECORD_FEATURE_NAMES if n not in RR_STRUCTURE_NAMES)
    return {
        # the record model as it was before the RR-structure features and the class weighting
        "without-rr-structure-unweighted": {"feature_names": earlier, "class_weights": (None,)},
    }


def fold_name(fold: int) -> str:
    return f"f{fold}"


def train_fold(root: Path, fold: int, folds: int, data_dir: Path, cache_dir: Path | None, quick: bool) -> Path:
    name = fold_name(fold)
    argv = [*SCHEDULE, *(QUICK if quick else ()), "--folds", str(folds), "--fold", str(fold),
            "--data-dir", str(data_dir), "--out", str(root / name)]
    if cache_dir:
        argv += ["--cache-dir", str(cache_dir)]
    return train_in_subprocess(name, argv, root / name, root / f"{name}.log", tag="rhythm-study")


def run_monitor_benchmarks(run: Path, data_dir: Path, out: Path, quick: bool) -> None:
    """The AF benchmark of ``run`` (with its validated smoothing and without) and of the model-free RR
    rule, on the MIT-BIH AF records and on the records without AF (false AF time; summaries only):
    ``out/{cinc2017-edge-rhythm,cinc2017-edge-rhythm-unsmoothed,rr-rule-baseline}[-non-af]``."""
    from .data.mitdb import available_records
    from .monitor import af_benchmark

    have = available_records(data_dir)
    af = [r for r in af_benchmark.AF_RECORDS if r in have]
    non_af = [r for r in have if r not in af_benchmark.AF_RECORDS]
    if quick:
        af, non_af = af[:1], non_af[:1]
    note = "quick smoke study: not a result" if quick else ""
    variants = (("cinc2017-edge-rhythm", str(run), []),
                ("cinc2017-edge-rhythm-network-smoothing", str(run), ["--network-only"]),
                ("cinc2017-edge-rhythm-unsmoothed", str(run), ["--no-smoothing"]),
                ("rr-rule-baseline", "rr-rule", []))
    for suffix, records, extra in (("", af, []), ("-non-af", non_af, ["--summary-only"])):
        if not records:
            continue
        for name, model, flags in variants:
            dest = out / f"{name}{suffix}"
            argv = ["--model", model, "--data-dir", str(data_dir), "--out", str(dest), "--records", ",".join(records),
                    "--note", note, *flags, *extra]
            print(f"[rhythm-study] AF benchmark -> {dest}", flush=True)
            if af_benchmark.main(argv) != 0:
                raise RuntimeError(f"the AF benchmark of {model} failed ({dest})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet_tf.rhythm_study", description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--root", type=Path, default=Path("runs/cinc-cv"), help="run folders of the study")
    parser.add_argument("--out", type=Path, default=Path("docs/results/cinc2017"), help="report folder")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--folds", type=int, default=FOLDS, help=f"cross-validation folds (default {FOLDS})")
    parser.add_argument("--only-folds", default=None,
                        help="comma-separated fold indices to train / fit (default all); the report needs all")
    parser.add_argument("--monitor-out", type=Path, default=Path("docs/results/monitor"),
                        help="folder of the monitor stage's AF benchmarks")
    parser.add_argument("--quick", action="store_true", help="smoke study (sampled records, one epoch): not a result")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    def body() -> None:
        from .bench import rhythm_report
        from .cli import data_dir_of
        from .training.record_stage import fit_run_record_model
        from .training.record_model import has_record_model
        from .monitor.smoothing_fit import fit_run_smoothing

        stages = [s for s in args.stages.split(",") if s]
        bad = [s for s in stages if s not in STAGES]
        if bad:
            raise ValueError(f"unknown stages {bad}; choose from {', '.join(STAGES)}")
        if args.folds < 3:
            raise ValueError("--folds must be at least 3 (test, validation and training folds)")
        try:
            only = ([int(f) for f in args.only_folds.split(",") if f] if args.only_folds else
                    list(range(args.folds)))
        except ValueError:
            raise ValueError(f"--only-folds must be comma-separated integers, got {args.only_folds!r}") from None
        if any(not 0 <= f < args.folds for f in only):
            raise ValueError(f"--only-folds must lie in 0..{args.folds - 1}, got {only}")
        data_dir = data_dir_of(args)
        root = args.root
        root.mkdir(parents=True, exist_ok=True)
        if "train" in stages:
            for fold in only:
                train_fold(root, fold, args.folds, data_dir, args.cache_dir, args.quick)
        if "records" in stages:
            for fold in only:
                run = root / fold_name(fold)
                if not (run / "metrics.json").is_file():
                    raise DataError(f"{run}: not trained yet; run the train stage first")
                if not has_record_model(run) or not (run / "record_model" / "metrics.json").is_file():
                    fit_run_record_model(run, args.cache_dir,
                                         log=lambda m: print(f"[rhythm-study] {m}", flush=True))
        if "variants" in stages:
            import dataclasses

            from .runs import RunConfig
            from .training.record_model import RecordModelConfig

            for fold in only:
                run = root / fold_name(fold)
                for name, change in record_model_variants().items():
                    folder = f"record_model-{name}"
                    if not (run / folder / "metrics.json").is_file():
                        cfg = dataclasses.replace(RecordModelConfig(seed=RunConfig.load(run).seed), **change)
                        fit_run_record_model(run, args.cache_dir, cfg, folder=folder,
                                             log=lambda m: print(f"[rhythm-study] {name}: {m}", flush=True))
        if "monitor" in stages:
            for fold in only:
                fit_run_smoothing(root / fold_name(fold), log=lambda m: print(f"[rhythm-study] {m}", flush=True))
            if REFERENCE_FOLD in only:
                run_monitor_benchmarks(root / fold_name(REFERENCE_FOLD), data_dir, args.monitor_out, args.quick)
        if "report" in stages:
            runs = [root / fold_name(f) for f in range(args.folds)]
            summary = rhythm_report.write_report(args.out, runs, quick=args.quick, monitor_dir=args.monitor_out)
            m, sd = summary["mean"], summary["std"]
            print(f"[rhythm-study] {args.folds}-fold CV: challenge F1 {m['challenge_f1']:.3f} ± "
                  f"{sd['challenge_f1']:.3f}, A F1 {m['A_f1']:.3f} ± {sd['A_f1']:.3f} "
                  f"(network alone {summary['network_alone']['mean']['challenge_f1']:.3f}) "
                  f"-> {args.out}/report.md", flush=True)

    return run_command(body, (DataError, FileNotFoundError, ValueError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
