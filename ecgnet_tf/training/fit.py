"""Train one model on one task (the library behind ``python -m ecgnet_tf.train``).

:class:`TrainConfig` holds every setting; :func:`train` trains or resumes it, checkpoints every epoch,
early-stops on validation loss, evaluates the best model on the held-out partition and writes the
run folder (see :mod:`ecgnet_tf.runs.folder`).

With ``strategy="multiworker"`` every worker runs :func:`train` with the same settings and data (its
``TF_CONFIG`` names the cluster and its own task); the global batch is split across the workers'
replicas, and the chief (the ``chief`` task, else worker 0) alone writes the run folder and evaluates.
The other workers save their checkpoints (saving a distributed model is collective) into a temporary
folder that they remove at the end, and read ``--out`` only to resume (see :func:`is_chief`).
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import preprocess as pp
from ..data.download import download_database
from ..data.records import validate_records
from ..data.registry import get_database
from ..settings import resolve_data_dir
from .augment import AugmentConfig
from .balance import BALANCE_MODES, BalanceConfig, cap_classes
from .distribute import check_workers_agree, crc32, is_chief, make_strategy, shard_batches, weights_digest, worker_label

# quick profile: minutes on 2 CPU cores; for smoke runs and CI, never a performance figure
QUICK = {"epochs": 2, "max_per_record": {"mitdb": 150, "ptbxl": None, "cinc2017": 3},
         "eval_max_per_record": {"mitdb": 300, "ptbxl": None, "cinc2017": None},
         "max_records": {"mitdb": None, "ptbxl": None, "cinc2017": 600},
         "balance": BalanceConfig(majority_cap=1500, target=300)}



#: validation figures early stopping and model selection can follow (losses fall, scores rise)
MONITORS = ("val_loss", "val_macro_f1")
#: how Keras runs the training and prediction steps: traced graphs, or eagerly op by op
EXECUTIONS = ("graph", "eager")
#: the most training steps a quick run takes eagerly (beyond, tracing the graphs once is cheaper)
EAGER_MAX_STEPS = 40


def resolve_execution(execution: str | None, quick: bool, strategy: str, planned_steps: int | None = None) -> str:
    """The execution mode of a run: ``execution`` when given, else ``"eager"`` for a quick run on the
    default strategy of at most :data:`EAGER_MAX_STEPS` training steps (``planned_steps``: epochs x
    steps per epoch; unknown counts as few) and ``"graph"`` otherwise.

    Tracing the train, test and predict graphs costs about 40 s on 2 CPU cores, and an eager step of
    the beat model about 1-2 s against 0.2 s traced: a smoke run of a few steps spends most of its time
    tracing, so it runs eagerly (the same operations, no tracing), while a quick run with more steps
    (e.g. a SMOTE-balanced beat run, 76 steps per epoch) is 4x faster as graphs. Real runs take
    thousands of steps. Distribution strategies run graphs only."""
    if execution is None:
        few = planned_steps is None or planned_steps <= EAGER_MAX_STEPS
        return "eager" if quick and few and strategy == "default" else "graph"
    if execution not in EXECUTIONS:
        raise ValueError(f"--execution must be one of {EXECUTIONS}, got {execution!r}")
    if execution == "eager" and strategy != "default":
        raise ValueError(f"--execution eager runs on the default strategy only, not --strategy {strategy}")
    return execution


@dataclass(frozen=True)
class TrainConfig:
    """Every training setting (the ``train`` command's options, same names).

    epochs None: 30 (2 with ``quick``). max_per_record / max_records / eval_max_per_record None:
    no cap (``quick`` sets its own). majority_cap / smote_target None: BalanceConfig defaults.
    """

    task: str = "mitdb-aami"
    config: str = "edge"
    data_dir: str | Path | None = None
    out: Path | None = None
    epochs: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    loss: str = "focal"
    gamma: float = 2.0
    seed: int = 0
    split: str = "standard"
    folds: int | None = None
    fold: int = 0
    train_fraction: float = 1.0
    init_from: Path | None = None
    quick: bool = False
    resume: bool = False
    patience: int = 5
    monitor: str = "val_loss"
    class_scale: str | None = None
    class_merge: str | None = None
    max_per_record: int | None = None
    max_records: int | None = None
    eval_max_per_record: int | None = None
    no_smote: bool = False
    balance: str = "smote"
    majority_cap: int | None = None
    smote_target: int | None = None
    no_augment: bool = False
    band: str = "hf"
    strategy: str = "default"
    cache_dir: Path | None = None
    download: bool = False
    prior_mode: str = "aligned"
    execution: str | None = None

    @classmethod
    def from_namespace(cls, ns) -> "TrainConfig":
        """From parsed command-line arguments (every field is an option of the same name)."""
        return cls(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(cls)})

    def to_argv(self) -> list[str]:
        """The ``python -m ecgnet_tf.train`` arguments that give this config (non-default fields only)."""
        argv: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                argv.append(flag)  # store_true options
            else:
                argv += [flag, str(value)]
        return argv


def parse_class_scale(text: str | None, classes: tuple[str, ...]) -> list[float] | None:
    """``"1,2.5,1,1,1"`` -> one positive factor per class (in ``classes`` order); None stays None."""
    if text is None or str(text).strip() == "":
        return None
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise ValueError(f"--class-scale must be comma-separated numbers, got {text!r}") from None
    if len(values) != len(classes) or any(not np.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"--class-scale needs {len(classes)} positive numbers (classes {', '.join(classes)}), "
                         f"got {text!r}")
    return values


def parse_class_merge(text: str | None, classes: tuple[str, ...]) -> list[int] | None:
    """``"F:N"`` (comma-separated SRC:DST class names) -> per class the index its probability goes to
    (its own index when not merged); None or "" stays None."""
    if text is None or str(text).strip() == "":
        return None
    into = list(range(len(classes)))
    for pair in str(text).split(","):
        src, sep, dst = pair.strip().partition(":")
        if not sep or src not in classes or dst not in classes or src == dst:
            raise ValueError(f"--class-merge needs SRC:DST pairs of different classes of {', '.join(classes)}, "
                             f"got {text!r}")
        into[classes.index(src)] = classes.index(dst)
    if any(into[d] != d for d in into):
        raise ValueError(f"--class-merge {text!r} merges into a class that is itself merged")
    return into


def check_rr_input(config: str, rr_features: int, task) -> None:
    """Refuse a model config whose "rr" input does not fit ``task``'s windows: beat tasks carry the
    beat's RR-interval features (``edge-rr``), segment tasks the window's rhythm features
    (``edge-rhythm``); ``rr_features`` 0 (no "rr" input) fits every task."""
    from ..tasks import rr_feature_names

    want = len(rr_feature_names(task))
    beat = task.prior_kind == "beat"
    # beat models take a prefix of the beat's rr row: the RR features alone (edge-rr) or with the context
    if not rr_features or rr_features == want or (beat and rr_features == len(pp.RR_FEATURE_NAMES)):
        return
    kind = "beat RR-interval features" if beat else "segment rhythm features"
    fix = "edge-rr" if beat else "edge-rhythm"
    if beat and rr_features == len(pp.RHYTHM_FEATURE_NAMES):
        got = "segment rhythm features (like edge-rhythm: segment tasks such as cinc2017)"
    elif not beat and rr_features == len(pp.RR_FEATURE_NAMES):
        got = "beat RR-interval features (like edge-rr: beat tasks such as mitdb-aami)"
    else:
        got = "'rr' features"
    raise ValueError(f"--config {config} takes {rr_features} {got}; {task.name} is a "
                     f"{'beat' if beat else 'segment'} task whose 'rr' input holds {want} {kind}: "
                     f"use --config {fix}")


def ensure_database(name: str, data_dir: Path, download: bool) -> None:
    """Raise MissingDatabaseError (saying how to get it) unless ``name`` is under ``data_dir``;
    with ``download``, fetch it from PhysioNet instead."""
    db = get_database(name)
    if db.is_present(data_dir):
        return
    if download:
        download_database(name, data_dir)
        return
    db.require(data_dir)


def _init_weights(model, source: Path) -> int:
    """Copy weights layer by layer (same name and shapes) from another run or .keras file."""
    from ..runs import load_model

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


def train(cfg: TrainConfig) -> dict:
    """Train (or resume) ``cfg``, evaluate on the held-out partition, write the run folder; return the test metrics
    (``{}`` on a multi-worker run's workers other than the chief, which neither evaluate nor write it)."""
    from ..tasks import get_task

    strategy = make_strategy(cfg.strategy)
    chief, worker = is_chief(strategy), worker_label(strategy)
    task = get_task(cfg.task)
    data_dir = resolve_data_dir(cfg.data_dir)
    ensure_database(task.database, data_dir, cfg.download)
    out = Path(cfg.out or Path("runs") / f"{task.name}-{cfg.config}")
    if chief:
        out.mkdir(parents=True, exist_ok=True)
        run_dir = out
    else:  # gets what the chief writes to out; out is only read (to resume)
        run_dir = Path(tempfile.mkdtemp(prefix=f"ecgnet-{worker.replace(' ', '-')}-"))
    if worker is not None:
        print(f"{worker}: " + (f"the chief, writes the run folder {out}" if chief else
                               f"not the chief, saves to {run_dir} (removed at the end)"))
    try:
        return _train(cfg, strategy, chief, worker, task, data_dir, out, run_dir)
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)


def _train(cfg: TrainConfig, strategy, chief: bool, worker: str | None, task, data_dir: Path, out: Path,
           run_dir: Path) -> dict:
    import tensorflow as tf
    import tf_keras as keras

    from ..model import build_model, get_model_config
    from ..runs import RunConfig, load_model, save_split, save_zscore, versions
    from ..tasks import load_windows, reduce_training_records, task_records
    from .balance import smote_tomek
    from .checkpoint import EpochCheckpoint, ValidationMacroF1, read_state, restore_rng_states, trim_history
    from .evaluation import evaluate_run
    from .losses import FocalLoss, WeightedCrossEntropy, inverse_frequency_weights, make_loss
    from .pipeline import make_dataset, steps_per_epoch

    state = read_state(out) if cfg.resume else None
    if cfg.resume and state is None:
        print(f"note: {out} has no checkpoint; starting from scratch", file=sys.stderr)
    profile = "quick" if cfg.quick else "full"
    epochs = cfg.epochs or (QUICK["epochs"] if cfg.quick else 30)
    max_per_record = cfg.max_per_record or (QUICK["max_per_record"][task.database] if cfg.quick else None)
    max_records = cfg.max_records or (QUICK["max_records"][task.database] if cfg.quick else None)
    eval_cap = cfg.eval_max_per_record or (QUICK["eval_max_per_record"][task.database] if cfg.quick else None)
    balance_cfg = QUICK["balance"] if cfg.quick else BalanceConfig()
    balance_cfg = dataclasses.replace(balance_cfg, **{k: v for k, v in (("majority_cap", cfg.majority_cap),
                                                                        ("target", cfg.smote_target)) if v is not None})
    # same seed, same run: deterministic kernels, seeded initialisers, dropout drawing from generators
    # whose state the checkpoints carry (see training.checkpoint), stateless augmentation
    tf.config.experimental.enable_op_determinism()
    keras.backend.experimental.enable_tf_random_generator()
    keras.utils.set_random_seed(cfg.seed)

    folds = {"kfold": cfg.folds or 5, "ds1-cv": cfg.folds or 3, "stratfold-cv": 10}.get(cfg.split)
    recs = task_records(task, data_dir, seed=cfg.seed, folds=folds, fold=cfg.fold, max_records=max_records,
                        scheme=cfg.split)
    split = reduce_training_records(recs.split, cfg.train_fraction, cfg.seed)
    recs = dataclasses.replace(recs, split=split)
    band = pp.CONVENTIONAL_BAND_HZ if cfg.band == "conventional" else pp.PreprocessConfig().band_hz
    pcfg = pp.PreprocessConfig(band_hz=band)
    mcfg = get_model_config(cfg.config)
    check_rr_input(cfg.config, mcfg.rr_features, task)
    print(f"{task.name}: {task.description}\nsplit {split.name}: train {len(split.train)}, val {len(split.val)}, "
          f"test {len(split.test)} records" + "".join(f"\n  note: {n}" for n in split.notes))

    # a damaged held-out record must stop the run now, not after hours of training (training records
    # are checked as their windows are cut, just below)
    validate_records(task.database, data_dir, split.val + split.test, recs.entry_of)
    morph = bool(mcfg.morph_features)  # the beat-template rows cost time: only for models that read them
    train_w = load_windows(recs, data_dir, split.train, pcfg, cfg.cache_dir, max_per_record, cfg.seed, "train windows",
                           morph)
    val = load_windows(recs, data_dir, split.val, pcfg, cfg.cache_dir, max_per_record, cfg.seed, "val windows", morph)
    if worker is not None:  # before anything is written: if the workers differ, all of them stop here
        settings = {k: v for k, v in dataclasses.asdict(cfg).items()
                    if k not in ("data_dir", "out", "cache_dir", "download", "init_from")}
        check_workers_agree(strategy, {
            "settings": zlib.crc32(json.dumps(settings, sort_keys=True, default=str).encode()),
            "training windows": crc32(train_w.x, train_w.prior, train_w.y),
            "validation windows": crc32(val.x, val.prior, val.y),
            "epoch to resume from": state["epoch"] if state else 0,
            "early-stopping state": int(state.get("wait", 0)) if state else 0})
    zscore = pp.ZScore.fit(train_w.x, partition="train")
    save_zscore(run_dir, zscore)
    save_split(run_dir, split)
    x_train, p_train, y_train = zscore.transform(train_w.x).astype(np.float32), train_w.prior, train_w.y
    use_rr = bool(mcfg.rr_features)
    if use_rr and train_w.rr.shape[1] < mcfg.rr_features:
        raise ValueError(f"--config {cfg.config} expects {mcfg.rr_features} 'rr' features, the {task.name} windows "
                         f"have {train_w.rr.shape[1]}")
    if use_rr:  # the model's columns: a prefix of the windows' rr rows (ModelSpec.prepare feeds the same)
        train_w.rr, val.rr = train_w.rr[:, :mcfg.rr_features], val.rr[:, :mcfg.rr_features]
    if mcfg.morph_features and train_w.morph.shape[1] != mcfg.morph_features:
        raise ValueError(f"--config {cfg.config} expects {mcfg.morph_features} 'morph' (beat-template) features, "
                         f"the {task.name} windows have {train_w.morph.shape[1]} (beat tasks only)")
    # per-window feature inputs besides the waveform and prior, balanced with their windows
    feature_inputs = (("rr",) if use_rr else ()) + (("morph",) if mcfg.morph_features else ())
    extra_train = {k: getattr(train_w, k) for k in feature_inputs}
    balance_info = None
    mode = "none" if cfg.no_smote else cfg.balance
    if mode not in BALANCE_MODES:
        raise ValueError(f"--balance must be one of {BALANCE_MODES}, got {cfg.balance!r}")
    if task.smote and mode == "undersample":
        keep = cap_classes(y_train, balance_cfg.majority_cap, seed=cfg.seed)
        before = {int(c): int(n) for c, n in zip(*np.unique(y_train, return_counts=True))}
        x_train, y_train, p_train = x_train[keep], y_train[keep], p_train[keep]
        extra_train = {k: v[keep] for k, v in extra_train.items()}
        after = {int(c): int(n) for c, n in zip(*np.unique(y_train, return_counts=True))}
        balance_info = {"mode": mode, "majority_cap": balance_cfg.majority_cap, "before": before, "after": after}
        print(f"undersampled training windows (cap {balance_cfg.majority_cap} per class): {before} -> {after}")
    if task.smote and mode == "smote":
        t0 = time.time()
        widths = [extra_train[k].shape[1] for k in feature_inputs]
        joined = np.concatenate([extra_train[k] for k in feature_inputs], axis=1) if feature_inputs else None
        res = smote_tomek(x_train, y_train, balance_cfg, seed=cfg.seed, partition="train", extra=joined)
        x_train, y_train = res.x, res.y
        if feature_inputs:
            cuts = np.cumsum(widths)[:-1]
            extra_train = dict(zip(feature_inputs, np.split(res.extra, cuts, axis=1)))
        p_train = np.broadcast_to(train_w.prior[:1], (len(res.y), train_w.prior.shape[1]))
        balance_info = {"mode": mode, **balance_cfg.to_dict(), "before": res.counts_before, "after": res.counts_after,
                        "seconds": round(time.time() - t0, 1)}
        print(f"SMOTE-Tomek on training windows: {res.counts_before} -> {res.counts_after}")
    if cfg.prior_mode not in pp.PRIOR_MODES:
        raise ValueError(f"--prior-mode must be one of {pp.PRIOR_MODES}, got {cfg.prior_mode!r}")
    val_prior = val.prior
    if cfg.prior_mode == "shuffled":  # the ablation control: every window gets another window's prior map
        p_train, val_prior = pp.shuffle_priors(p_train, cfg.seed), pp.shuffle_priors(val.prior)
    n_classes = len(task.classes)
    class_scale = parse_class_scale(cfg.class_scale, task.classes)
    class_merge = parse_class_merge(cfg.class_merge, task.classes)
    weights = inverse_frequency_weights(y_train, n_classes, min_count=balance_cfg.weight_floor if task.smote else 0)
    aug = None if cfg.no_augment else AugmentConfig()
    fs = pcfg.fs_out
    execution = resolve_execution(
        cfg.execution, cfg.quick, cfg.strategy,
        planned_steps=epochs * steps_per_epoch(len(x_train), cfg.batch_size * strategy.num_replicas_in_sync))
    run_cfg = RunConfig(task=task.name, config=cfg.config, model_config=mcfg.to_dict(),
                        preprocess=pcfg.to_dict(), preprocess_hash=pp.config_hash(pcfg), loss=cfg.loss,
                        lr=cfg.lr, epochs=epochs, batch_size=cfg.batch_size, seed=cfg.seed, profile=profile,
                        folds=folds, fold=cfg.fold, train_fraction=cfg.train_fraction,
                        init_from=str(cfg.init_from) if cfg.init_from else None, strategy=cfg.strategy,
                        max_per_record=max_per_record, max_records=max_records, eval_max_per_record=eval_cap,
                        monitor=cfg.monitor, class_scale=class_scale, class_merge=class_merge,
                        prior_mode=cfg.prior_mode,
                        augment=aug.to_dict() if aug else None, balance=balance_info,
                        class_weights=weights.tolist(), data_dir=str(data_dir.resolve()), versions=versions(),
                        execution=execution)
    run_cfg.save(run_dir)

    global_batch = cfg.batch_size * strategy.num_replicas_in_sync
    print(f"strategy {cfg.strategy}: replicas: {strategy.num_replicas_in_sync}, global batch {global_batch}")
    initial_epoch = state["epoch"] if state else 0
    train_ds = make_dataset(x_train, p_train, y_train, n_classes, global_batch, shuffle=True, seed=cfg.seed,
                            augment=aug, fs=fs, epochs=epochs, initial_epoch=min(initial_epoch, epochs),
                            extra=extra_train or None)
    x_val = zscore.transform(val.x).astype(np.float32)
    val_ds = make_dataset(x_val, val_prior, val.y, n_classes, global_batch,
                          extra={k: getattr(val, k) for k in feature_inputs} or None)
    steps = steps_per_epoch(len(x_train), global_batch)
    if worker is not None:
        train_ds, val_ds = shard_batches(train_ds), shard_batches(val_ds)
    with strategy.scope():
        if state is not None:
            # the compiled checkpoint: weights, optimizer state, loss and metrics as they were
            model = load_model(state["checkpoint_path"], compile=True,
                               custom_objects={"FocalLoss": FocalLoss, "WeightedCrossEntropy": WeightedCrossEntropy})
            restore_rng_states(model, state.get("rng", {}))
            print(f"resumed from {state['checkpoint_path'].name} (epoch {initial_epoch} of {epochs})")
        else:
            model = build_model(mcfg, n_samples=train_w.x.shape[1], n_leads=train_w.x.shape[2], n_classes=n_classes,
                                multilabel=task.multilabel)
            if cfg.init_from:
                print(f"initialised {_init_weights(model, cfg.init_from)} layers from {cfg.init_from}")
            model.compile(optimizer=keras.optimizers.Adam(cfg.lr),
                          loss=make_loss(cfg.loss, weights, task.multilabel, cfg.gamma,
                                         positive_fraction=y_train.mean(axis=0) if task.multilabel else None),
                          metrics=[keras.metrics.AUC(name="auc", multi_label=task.multilabel)])
        model.run_eagerly = execution == "eager"  # set on a resumed checkpoint too: the archive does not store it
    # every worker saves (saving a distributed model is collective), a non-chief one into its temporary run_dir
    if cfg.monitor not in MONITORS:
        raise ValueError(f"--monitor must be one of {MONITORS}, got {cfg.monitor!r}")
    if cfg.monitor == "val_macro_f1" and worker is not None:
        raise ValueError("--monitor val_macro_f1 is not supported with --strategy multiworker (use val_loss)")
    ckpt = EpochCheckpoint(run_dir, monitor=cfg.monitor, patience=cfg.patience, state=state,
                           sync_replicas=worker is not None)
    selection = []
    if cfg.monitor == "val_macro_f1":
        val_feed = {"ecg": x_val, "prior": val_prior[..., None]}
        val_feed.update({k: getattr(val, k) for k in feature_inputs})
        selection = [ValidationMacroF1(val_feed, val.y, task.classes, task.multilabel)]
    trim_history(run_dir / "history.csv", initial_epoch)
    if initial_epoch < epochs and not (state and state.get("wait", 0) >= cfg.patience):
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                  steps_per_epoch=steps,
                  verbose=1 if sys.stdout.isatty() else 2,
                  # the history row is written before the checkpoint state: a kill between the two leaves
                  # one extra row, which the resume trims (trim_history)
                  callbacks=[*selection,
                             keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=initial_epoch > 0),
                             ckpt, keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), profile_batch=0)])
    if worker is not None:  # every worker prints it: equal digests, the workers ended with the same model
        print(f"{worker}: final weights {weights_digest(model.get_weights())}")
    if not chief:
        return {}
    metrics = evaluate_run(out, data_dir, cache_dir=cfg.cache_dir)
    print(f"test ({metrics['level']}-level, n={metrics['n']}): accuracy {metrics['accuracy']:.4f}, "
          f"macro F1 {metrics['macro']['f1']:.4f}, macro AUROC {metrics['macro']['auroc']:.4f} -> {out}/report.md")
    return metrics
