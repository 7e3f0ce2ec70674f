"""Train an ecgnet model on one task, evaluate it on the held-out partition, write the run folder.

    python -m ecgnet_tf.train [--task mitdb-aami] [--config edge] [--data-dir D] [--out runs/NAME]
                              [--quick] [--epochs N] [--resume] [--folds K --fold I] ...

A thin shell over :func:`ecgnet_tf.training.fit.train` (settings: :class:`~ecgnet_tf.training.fit.TrainConfig`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import add_data_dir_argument, run_command
from .data.download import DownloadError
from .data.errors import DataError
from .tasks import TASKS
from .training.balance import BALANCE_MODES
from .training.fit import EXECUTIONS
from .training.losses import LOSSES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.train", description=__doc__.splitlines()[0])
    p.add_argument("--task", default="mitdb-aami", choices=tuple(TASKS))
    p.add_argument("--config", default="edge", help="model config name (edge, paper, baseline, +multiscale, ...)")
    add_data_dir_argument(p)
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/<task>-<config>)")
    p.add_argument("--epochs", type=int, default=None, help="default 30 (2 with --quick)")
    p.add_argument("--batch-size", type=int, default=64, help="per replica")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--loss", default="focal", choices=LOSSES)
    p.add_argument("--gamma", type=float, default=2.0, help="focal loss gamma")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="standard", choices=("standard", "kfold", "ds1-cv", "stratfold-cv"),
                   help="task's standard split, stratified record-level K-fold, (mitdb-aami) patient-grouped "
                        "K-fold inside DS1 for choosing settings without DS2 (see --folds), or (PTB-XL) the ten "
                        "strat_folds as ten test folds (--fold 0..9: test strat_fold fold+1, validation the next)")
    p.add_argument("--folds", type=int, default=None, help="K for --split kfold (default 5) or ds1-cv (default 3)")
    p.add_argument("--fold", type=int, default=0, help="which fold is the test fold")
    p.add_argument("--train-fraction", type=float, default=1.0, help="fraction of training records kept")
    p.add_argument("--prior-mode", default="aligned", choices=("aligned", "shuffled"),
                   help="prior maps as computed (aligned) or reassigned between windows (shuffled): the "
                        "guided-attention ablation control; stored in run.json and applied at evaluation")
    p.add_argument("--init-from", type=Path, default=None, help="run folder, .keras, or a pretrained model's name (beats, rhythm, mi) to initialise weights from")
    p.add_argument("--quick", action="store_true", help="smoke profile: minutes on 2 CPU cores")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--patience", type=int, default=5, help="early stopping: epochs without improvement of --monitor")
    p.add_argument("--monitor", default="val_loss", choices=("val_loss", "val_macro_f1"),
                   help="validation figure for early stopping and the best model (val_macro_f1 follows the rare "
                        "classes; default val_loss)")
    p.add_argument("--class-scale", default=None,
                   help="decision rule: comma-separated factor per class multiplying the probabilities before the "
                        "argmax (class priors chosen on training data only, e.g. by python -m "
                        "ecgnet_tf.beat_study; stored in run.json and exported sidecars)")
    p.add_argument("--class-merge", default=None,
                   help="decision rule: SRC:DST[,SRC:DST] adds class SRC's probability to class DST before the "
                        "class scale, so SRC is never decided (e.g. F:N; chosen on training data only by python "
                        "-m ecgnet_tf.beat_study; stored in run.json and exported sidecars)")
    p.add_argument("--max-per-record", type=int, default=None,
                   help="cap training/validation windows per record (default: none; --quick sets one)")
    p.add_argument("--max-records", type=int, default=None,
                   help="seeded class-stratified sample of the task's records before splitting "
                        "(default: all; --quick samples 600 CinC 2017 records)")
    p.add_argument("--eval-max-per-record", type=int, default=None,
                   help="cap held-out windows per record (smoke runs only; reported in metrics.json)")
    p.add_argument("--balance", default="smote", choices=BALANCE_MODES,
                   help="beat tasks' training balance: SMOTE-Tomek (default), undersample (majority classes "
                        "randomly capped at --majority-cap, real windows only) or none; class weights in the "
                        "loss follow the balanced counts")
    p.add_argument("--no-smote", action="store_true", help="same as --balance none")
    p.add_argument("--majority-cap", type=int, default=None,
                   help="SMOTE-Tomek: training windows kept per majority class (default 12000; 1500 with --quick)")
    p.add_argument("--smote-target", type=int, default=None,
                   help="SMOTE-Tomek: windows per minority class after oversampling (default 4000; 300 with --quick)")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--band", default="hf", choices=("hf", "conventional"),
                   help="band-pass: 0.5-150 Hz (hf, default) or 0.5-40 Hz (conventional)")
    p.add_argument("--strategy", default="default", choices=("default", "mirrored", "multiworker"))
    p.add_argument("--execution", default=None, choices=EXECUTIONS,
                   help="run the Keras steps as traced graphs or eagerly (default: eager with --quick on the "
                        "default strategy, where tracing costs more than a few steps; graph otherwise)")
    p.add_argument("--cache-dir", type=Path, default=None, help="window cache (default $ECGNET_CACHE or ~/.cache/ecgnet)")
    p.add_argument("--download", action="store_true", help="download the database first if it is missing")
    return p


def main(argv: list[str] | None = None) -> int:
    from .training.fit import TrainConfig, train

    args = build_parser().parse_args(argv)

    def body() -> None:
        from .pretrained.registry import resolve_model

        args.init_from = resolve_model(args.init_from)  # a pretrained name -> its verified folder
        train(TrainConfig.from_namespace(args))

    return run_command(body, (DataError, FileNotFoundError, ValueError, DownloadError))


if __name__ == "__main__":
    sys.exit(main())
