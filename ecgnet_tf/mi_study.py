"""The PTB-XL MI study: ten-fold cross-validation over PTB-XL's own folds, an operating point chosen on
validation, localisation, and the guided-attention ablation.

    python -m ecgnet_tf.mi_study [--data-dir D] [--root runs/mi-cv] [--out docs/results/ptbxl]
                                 [--stages train,report] [--variants guided,noguided,shuffled] [--quick]

Stages (each training is one ``python -m ecgnet_tf.train`` process; a run whose ``metrics.json``
exists is reused and one with a checkpoint resumed):

1. ``train``: for every variant and fold I (0..9), ``--split stratfold-cv --fold I``: test
   strat_fold I+1, validation strat_fold I+2 (10 wraps to 1; early stopping and the threshold), the
   other eight for training; the same folds and seeds for every variant:

   * ``guided``: the ``edge`` network (guided attention initialised from the physiological prior);
   * ``noguided``: the same network without the guided attention (``edge-noguided``);
   * ``shuffled``: ``edge`` with every window given another window's prior map (``--prior-mode shuffled``);
   * ``loc``: MI localisation (``ptbxl-mi-loc``, AMI / IMI / LMI, multi-label) with ``edge``.

2. ``report``: the study's decision, the *record model* (gradient-boosted trees on each record's
   12-lead median-beat features, fitted on the fold's training records and fused with the fold's
   guided network, settings and fusion weight chosen on its validation records:
   :mod:`ecgnet_tf.training.mi_record_model`; ``--network-only`` leaves it out); pooled out-of-fold
   AUC with patient-bootstrap intervals, sensitivity and specificity at the thresholds chosen on
   each fold's validation records (specificity 0.90), the network alone and the trees alone beside
   it, the fold table, the ablation deltas, localisation AUCs, ROC curves: ``OUT/summary.json``,
   ``OUT/report.md``, ``OUT/roc.png`` (:mod:`ecgnet_tf.bench.mi_report`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import add_data_dir_argument, run_command
from .data.errors import DataError
from .training.launch import train_in_subprocess

STAGES = ("train", "report")
FOLDS = 10
#: the study's variants: train arguments on top of SCHEDULE
VARIANTS: dict[str, tuple[str, ...]] = {
    "guided": ("--task", "ptbxl-mi", "--config", "edge"),
    "noguided": ("--task", "ptbxl-mi", "--config", "edge-noguided"),
    "shuffled": ("--task", "ptbxl-mi", "--config", "edge", "--prior-mode", "shuffled"),
    "loc": ("--task", "ptbxl-mi-loc", "--config", "edge"),
}
#: training schedule shared by every run of the study
SCHEDULE: tuple[str, ...] = ("--split", "stratfold-cv", "--epochs", "20", "--patience", "5", "--monitor", "val_loss")
#: smoke version (tests, CI): one epoch
QUICK: tuple[str, ...] = ("--quick", "--epochs", "1")


def run_name(variant: str, fold: int) -> str:
    return f"{variant}-f{fold}"


def train_run(root: Path, variant: str, fold: int, data_dir: Path, cache_dir: Path | None, quick: bool) -> Path:
    name = run_name(variant, fold)
    argv = [*VARIANTS[variant], *SCHEDULE, *(QUICK if quick else ()), "--fold", str(fold),
            "--data-dir", str(data_dir), "--out", str(root / name)]
    if cache_dir:
        argv += ["--cache-dir", str(cache_dir)]
    return train_in_subprocess(name, argv, root / name, root / f"{name}.log", tag="mi-study")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet_tf.mi_study", description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--root", type=Path, default=Path("runs/mi-cv"), help="run folders of the study")
    parser.add_argument("--out", type=Path, default=Path("docs/results/ptbxl"), help="report folder")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--folds", default=",".join(str(f) for f in range(FOLDS)),
                        help="comma-separated fold indices 0..9 (default all ten)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="patient bootstrap resamples for the intervals")
    parser.add_argument("--quick", action="store_true", help="smoke study (one epoch): not a result")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--network-only", action="store_true",
                        help="report the networks only (no median-beat record model)")
    args = parser.parse_args(argv)

    def body() -> None:
        from .cli import data_dir_of

        stages = [s for s in args.stages.split(",") if s]
        variants = [v for v in args.variants.split(",") if v]
        bad = [s for s in stages if s not in STAGES] + [v for v in variants if v not in VARIANTS]
        if bad:
            raise ValueError(f"unknown stages/variants {bad}; stages: {', '.join(STAGES)}; "
                             f"variants: {', '.join(VARIANTS)}")
        try:
            folds = [int(f) for f in args.folds.split(",") if f]
        except ValueError:
            raise ValueError(f"--folds must be comma-separated integers, got {args.folds!r}") from None
        if not folds or any(not 0 <= f < FOLDS for f in folds):
            raise ValueError(f"--folds must lie in 0..{FOLDS - 1}, got {args.folds!r}")
        data_dir = data_dir_of(args)
        root = args.root
        root.mkdir(parents=True, exist_ok=True)
        if "train" in stages:
            for variant in variants:
                for fold in folds:
                    train_run(root, variant, fold, data_dir, args.cache_dir, args.quick)
        if "report" in stages:
            from .bench import mi_report

            runs = {v: [root / run_name(v, f) for f in folds] for v in variants}
            s = mi_report.write_report(args.out, runs, n_boot=args.bootstrap, quick=args.quick,
                                       record_model=not args.network_only, cache_dir=args.cache_dir)
            print(f"[mi-study] pooled out-of-fold MI AUC {s['auc']:.3f} [{s['auc_ci'][0]:.3f}, {s['auc_ci'][1]:.3f}], "
                  f"sensitivity {s['sensitivity']:.3f} at specificity {s['specificity']:.3f} "
                  f"({s['n_records']} records) -> {args.out}/report.md", flush=True)

    return run_command(body, (DataError, FileNotFoundError, ValueError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
