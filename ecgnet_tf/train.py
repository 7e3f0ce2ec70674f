"""Train an ecgnet model on one task, evaluate it on the held-out partition, write the run folder.

    python -m ecgnet_tf.train [--task mitdb-aami] [--config edge] [--data-dir D] [--out runs/NAME]
                              [--quick] [--epochs N] [--resume] [--folds K --fold I] ...
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from data.download import DownloadError, download_database

from . import preprocess as pp
from .data.errors import DataError, MissingDatabaseError
from .settings import add_data_dir_argument, resolve_data_dir
from .training.augment import AugmentConfig
from .training.balance import BalanceConfig
from .training.losses import LOSSES
from .training.tasks import TASKS

# quick profile: minutes on 2 CPU cores; for smoke runs and CI, never a performance figure
QUICK = {"epochs": 2, "max_per_record": {"mitdb": 150, "ptbxl": None, "cinc2017": 3},
         "eval_max_per_record": {"mitdb": 300, "ptbxl": None, "cinc2017": None},
         "max_records": {"mitdb": None, "ptbxl": None, "cinc2017": 600},
         "balance": BalanceConfig(majority_cap=1500, target=300)}


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
    p.add_argument("--split", default="standard", choices=("standard", "kfold"),
                   help="task's standard split, or stratified record-level K-fold (see --folds)")
    p.add_argument("--folds", type=int, default=None, help="K for --split kfold (default 5)")
    p.add_argument("--fold", type=int, default=0, help="which fold is the test fold")
    p.add_argument("--train-fraction", type=float, default=1.0, help="fraction of training records kept")
    p.add_argument("--init-from", type=Path, default=None, help="run folder or .keras to initialise weights from")
    p.add_argument("--quick", action="store_true", help="smoke profile: minutes on 2 CPU cores")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--patience", type=int, default=5, help="early stopping on validation loss")
    p.add_argument("--max-per-record", type=int, default=None,
                   help="cap training/validation windows per record (default: none; --quick sets one)")
    p.add_argument("--max-records", type=int, default=None,
                   help="seeded class-stratified sample of the task's records before splitting "
                        "(default: all; --quick samples 600 CinC 2017 records)")
    p.add_argument("--eval-max-per-record", type=int, default=None,
                   help="cap held-out windows per record (smoke runs only; reported in metrics.json)")
    p.add_argument("--no-smote", action="store_true", help="skip SMOTE-Tomek balancing of beat tasks")
    p.add_argument("--majority-cap", type=int, default=None,
                   help="SMOTE-Tomek: training windows kept per majority class (default 12000; 1500 with --quick)")
    p.add_argument("--smote-target", type=int, default=None,
                   help="SMOTE-Tomek: windows per minority class after oversampling (default 4000; 300 with --quick)")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--band", default="hf", choices=("hf", "conventional"),
                   help="band-pass: 0.5-150 Hz (hf, default) or 0.5-40 Hz (conventional)")
    p.add_argument("--strategy", default="default", choices=("default", "mirrored", "multiworker"))
    p.add_argument("--cache-dir", type=Path, default=None, help="window cache (default $ECGNET_CACHE or ~/.cache/ecgnet)")
    p.add_argument("--download", action="store_true", help="download the database first if it is missing")
    return p


def make_strategy(name: str):
    """The tf.distribute strategy for ``name``; mirrored without GPUs uses two logical CPU devices."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:  # must happen before the runtime starts; listing logical devices would start it
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    except RuntimeError as exc:
        raise RuntimeError("--strategy mirrored on CPU needs a fresh process (TensorFlow already started)") from exc
    return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")[:2]])


_DATABASE_MARKERS = {"mitdb": "mitdb/*.hea", "ptbxl": "ptbxl/ptbxl_database.csv", "cinc2017": "cinc2017/REFERENCE.csv"}


def ensure_database(name: str, data_dir: Path, download: bool) -> None:
    """Raise MissingDatabaseError (saying how to get it) unless ``name`` is under ``data_dir``."""
    pattern = _DATABASE_MARKERS[name]
    if any(data_dir.glob(pattern)):
        return
    if download:
        download_database(name, data_dir)
        return
    raise MissingDatabaseError(name, str(data_dir), str(data_dir / pattern))


def _init_weights(model, source: Path) -> int:
    """Copy weights layer by layer (same name and shapes) from another run or .keras file."""
    from .evaluate import load_model

    path = source / "model.keras" if source.is_dir() else source
    if not path.is_file():
        raise FileNotFoundError(f"{path}: --init-from needs a run folder with model.keras or a .keras file")
    src = {layer.name: layer for layer in load_model(path).layers}
    copied = 0
    for layer in model.layers:
        other = src.get(layer.name)
        if other is None or not layer.weights:
            continue
        if [w.shape for w in layer.get_weights()] == [w.shape for w in other.get_weights()]:
            layer.set_weights(other.get_weights())
            copied += 1
    return copied


def run(args: argparse.Namespace) -> dict:
    """Train (or resume) and evaluate; return the test metrics."""
    import tensorflow as tf  # noqa: F401  (after ecgnet_tf set TF_USE_LEGACY_KERAS)
    import tf_keras as keras

    from .evaluate import evaluate_run, load_model
    from .model import build_model, get_model_config
    from .training.balance import smote_tomek
    from .training.checkpoint import EpochCheckpoint, read_state
    from .training.losses import inverse_frequency_weights, make_loss
    from .training.pipeline import make_dataset
    from .training.rundir import RunConfig, save_split, versions
    from .training.tasks import get_task, reduce_training_records, task_records
    from .training.windows import load_windows

    strategy = make_strategy(args.strategy)
    task = get_task(args.task)
    data_dir = resolve_data_dir(args.data_dir)
    ensure_database(task.database, data_dir, args.download)
    out = Path(args.out or Path("runs") / f"{task.name}-{args.config}")
    out.mkdir(parents=True, exist_ok=True)
    state = read_state(out) if args.resume else None
    if args.resume and state is None:
        print(f"note: {out} has no checkpoint; starting from scratch", file=sys.stderr)
    profile = "quick" if args.quick else "full"
    epochs = args.epochs or (QUICK["epochs"] if args.quick else 30)
    max_per_record = args.max_per_record or (QUICK["max_per_record"][task.database] if args.quick else None)
    max_records = args.max_records or (QUICK["max_records"][task.database] if args.quick else None)
    eval_cap = args.eval_max_per_record or (QUICK["eval_max_per_record"][task.database] if args.quick else None)
    balance_cfg = QUICK["balance"] if args.quick else BalanceConfig()
    balance_cfg = dataclasses.replace(balance_cfg, **{k: v for k, v in (("majority_cap", args.majority_cap),
                                                                        ("target", args.smote_target)) if v is not None})
    keras.utils.set_random_seed(args.seed)

    folds = (args.folds or 5) if args.split == "kfold" else None
    recs = task_records(task, data_dir, seed=args.seed, folds=folds, fold=args.fold, max_records=max_records)
    split = reduce_training_records(recs.split, args.train_fraction, args.seed)
    recs = dataclasses.replace(recs, split=split)
    band = pp.CONVENTIONAL_BAND_HZ if args.band == "conventional" else pp.PreprocessConfig().band_hz
    pcfg = pp.PreprocessConfig(band_hz=band)
    mcfg = get_model_config(args.config)
    print(f"{task.name}: {task.description}\nsplit {split.name}: train {len(split.train)}, val {len(split.val)}, "
          f"test {len(split.test)} records" + "".join(f"\n  note: {n}" for n in split.notes))

    train = load_windows(recs, data_dir, split.train, pcfg, args.cache_dir, max_per_record, args.seed, "train windows")
    val = load_windows(recs, data_dir, split.val, pcfg, args.cache_dir, max_per_record, args.seed, "val windows")
    zscore = pp.ZScore.fit(train.x, partition="train")
    (out / "normalization.json").write_text(json.dumps(zscore.to_dict(), indent=2))
    save_split(out, split)
    x_train, p_train, y_train = zscore.transform(train.x).astype(np.float32), train.prior, train.y
    balance_info = None
    if task.smote and not args.no_smote:
        t0 = time.time()
        res = smote_tomek(x_train, y_train, balance_cfg, seed=args.seed, partition="train")
        x_train, y_train = res.x, res.y
        p_train = np.broadcast_to(train.prior[:1], (len(res.y), train.prior.shape[1]))
        balance_info = {**balance_cfg.to_dict(), "before": res.counts_before, "after": res.counts_after,
                        "seconds": round(time.time() - t0, 1)}
        print(f"SMOTE-Tomek on training windows: {res.counts_before} -> {res.counts_after}")
    n_classes = len(task.classes)
    weights = inverse_frequency_weights(y_train, n_classes)
    aug = None if args.no_augment else AugmentConfig()
    fs = pcfg.fs_out
    cfg = RunConfig(task=task.name, config=args.config, model_config=mcfg.to_dict(),
                    preprocess=dataclasses.asdict(pcfg), preprocess_hash=pp.config_hash(pcfg), loss=args.loss,
                    lr=args.lr, epochs=epochs, batch_size=args.batch_size, seed=args.seed, profile=profile,
                    folds=folds, fold=args.fold, train_fraction=args.train_fraction,
                    init_from=str(args.init_from) if args.init_from else None, strategy=args.strategy,
                    max_per_record=max_per_record, max_records=max_records,
                    eval_max_per_record=eval_cap,
                    augment=aug.to_dict() if aug else None, balance=balance_info,
                    class_weights=weights.tolist(), data_dir=str(data_dir.resolve()), versions=versions())
    cfg.save(out)

    global_batch = args.batch_size * strategy.num_replicas_in_sync
    print(f"strategy {args.strategy}: replicas: {strategy.num_replicas_in_sync}, global batch {global_batch}")
    train_ds = make_dataset(x_train, p_train, y_train, n_classes, global_batch, shuffle=True, seed=args.seed,
                            augment=aug, fs=fs)
    val_ds = make_dataset(zscore.transform(val.x).astype(np.float32), val.prior, val.y, n_classes, global_batch)
    with strategy.scope():
        if state is not None:
            model = load_model(out / "checkpoints" / "last.keras")
        else:
            model = build_model(mcfg, n_samples=train.x.shape[1], n_leads=train.x.shape[2], n_classes=n_classes,
                                multilabel=task.multilabel)
            if args.init_from:
                print(f"initialised {_init_weights(model, args.init_from)} layers from {args.init_from}")
        model.compile(optimizer=keras.optimizers.Adam(args.lr),
                      loss=make_loss(args.loss, weights, task.multilabel, args.gamma,
                                     positive_fraction=y_train.mean(axis=0) if task.multilabel else None),
                      metrics=[keras.metrics.AUC(name="auc", multi_label=task.multilabel)])
    ckpt = EpochCheckpoint(out, patience=args.patience, state=state)
    initial_epoch = state["epoch"] if state else 0
    if initial_epoch < epochs and not (state and state.get("wait", 0) >= args.patience):
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                  verbose=1 if sys.stdout.isatty() else 2,
                  callbacks=[ckpt, keras.callbacks.CSVLogger(str(out / "history.csv"), append=initial_epoch > 0),
                             keras.callbacks.TensorBoard(str(out / "tensorboard"), profile_batch=0)])
    metrics = evaluate_run(out, data_dir, cache_dir=args.cache_dir)
    print(f"test ({metrics['level']}-level, n={metrics['n']}): accuracy {metrics['accuracy']:.4f}, "
          f"macro F1 {metrics['macro']['f1']:.4f}, macro AUROC {metrics['macro']['auroc']:.4f} -> {out}/report.md")
    return metrics


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (DataError, FileNotFoundError, ValueError, DownloadError) as exc:  # MissingDatabaseError included
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
