"""Per-epoch checkpoints, best-model saving and early stopping that survive a kill (``--resume``).

Every file is written atomically (:mod:`ecgnet_tf.atomic`). At the end of epoch N the callback
writes, in this order: ``model.keras`` (on improvement), ``checkpoints/epoch-000N.keras`` (the
compiled model with its optimizer state), then ``checkpoints/state.json`` (epoch, best value,
patience counter, the checkpoint's name and the dropout random-generator states), then removes older
epoch checkpoints. ``state.json`` always names a complete checkpoint, so a kill at any point loses at
most the epoch in progress, and a resumed run continues bit-exactly where the last complete epoch
ended (the input pipeline is keyed by epoch, see :mod:`ecgnet_tf.training.pipeline`).

In a multi-worker run (``sync_replicas``) every replica's copy of the batch-norm moving statistics is
set to their mean across replicas at the end of each epoch, before the checkpoint: those statistics
are kept per replica in training and a checkpoint holds their mean, which is what every replica of a
resumed run starts from, so an uninterrupted run starts each epoch from it too.

``ECGNET_FAULT_AT`` (tests only) kills the process at a named point in the second epoch this process
trains: ``checkpoint_save`` (the temporary checkpoint file written, not yet renamed), ``between_epochs``
(after ``state.json``) or ``mid_epoch`` (after the epoch's second batch).
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import tf_keras as keras

from .. import atomic

FAULT_ENV = "ECGNET_FAULT_AT"
STATE_FILE = "state.json"


def fault_point(name: str) -> None:
    """Kill the process here when ``$ECGNET_FAULT_AT`` names this point (fault-injection tests)."""
    if os.environ.get(FAULT_ENV) == name:
        os._exit(137)


def dropout_generators(model) -> dict[str, object]:
    """The ``tf.random.Generator`` of every layer that draws random numbers in training (dropout).

    They exist when ``tf_keras.backend.experimental.enable_tf_random_generator()`` was called before
    the model was built; their state is not part of the saved weights, so checkpoints carry it.
    """
    out = {}
    for layer in model.layers:
        gen = getattr(getattr(layer, "_random_generator", None), "_generator", None)
        if gen is not None and hasattr(gen, "state"):
            out[layer.name] = gen
    return out


def rng_states(model) -> dict[str, list[int]]:
    return {name: [int(v) for v in gen.state.numpy()] for name, gen in dropout_generators(model).items()}


def restore_rng_states(model, states: dict[str, list[int]]) -> None:
    gens = dropout_generators(model)
    missing = sorted(set(states) - set(gens))
    if missing:
        raise ValueError(f"checkpoint has random-generator states for layers {missing} the model lacks")
    for name, values in states.items():
        gens[name].state.assign(np.asarray(values, dtype=gens[name].state.dtype.as_numpy_dtype))


def sync_replica_statistics(model) -> None:
    """Set every replica's copy of the model's per-replica (sync-on-read, averaged) variables, the
    batch-norm moving statistics, to their mean across all replicas of all workers (a collective
    operation in a multi-worker run: every worker calls it)."""
    import tensorflow as tf

    for v in model.non_trainable_weights:
        if (getattr(v, "synchronization", None) == tf.VariableSynchronization.ON_READ
                and getattr(v, "aggregation", None) == tf.VariableAggregation.MEAN):
            v.assign(v.read_value())


class EpochCheckpoint(keras.callbacks.Callback):
    """Save the best model and an epoch checkpoint every epoch, atomically; stop early on ``monitor``.

    ``sync_replicas``: first average the replicas' batch-norm statistics (multi-worker runs, see above).
    """

    def __init__(self, run_dir: Path, monitor: str = "val_loss", patience: int = 5, state: dict | None = None,
                 sync_replicas: bool = False):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.monitor = monitor
        self.mode = "min" if monitor.endswith("loss") else "max"  # losses fall, scores (F1, AUC) rise
        self.patience = patience
        self.sync_replicas = sync_replicas
        state = state or {}
        self.best = float(state.get("best", np.inf if self.mode == "min" else -np.inf))
        self.wait = int(state.get("wait", 0))
        self.epoch = int(state.get("epoch", 0))
        self._epochs_here = 0

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def state_path(self) -> Path:
        return self.checkpoint_dir / STATE_FILE

    def on_train_batch_end(self, batch, logs=None):
        if self._epochs_here == 1 and batch == 1:
            fault_point("mid_epoch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.sync_replicas:
            sync_replica_statistics(self.model)
        value = float(logs.get(self.monitor, np.nan))
        self.epoch = epoch + 1
        if value < self.best if self.mode == "min" else value > self.best:  # NaN never improves
            self.best, self.wait = value, 0
            atomic.save_model(self.model, self.run_dir / "model.keras")
        else:
            self.wait += 1
        name = f"epoch-{self.epoch:04d}.keras"
        with atomic.atomic_path(self.checkpoint_dir / name) as tmp:
            self.model.save(tmp)
            if self._epochs_here == 1:
                fault_point("checkpoint_save")
        atomic.write_json(self.state_path, {"epoch": self.epoch, "best": self.best, "wait": self.wait,
                                            "monitor": self.monitor, "checkpoint": name,
                                            "rng": rng_states(self.model)})
        for old in self.checkpoint_dir.glob("epoch-*.keras"):
            if old.name != name:
                old.unlink(missing_ok=True)
        if self._epochs_here == 1:
            fault_point("between_epochs")
        self._epochs_here += 1
        if self.wait >= self.patience:
            self.model.stop_training = True


def read_state(run_dir: Path) -> dict | None:
    """The saved checkpoint state of a run, or None when it has none (or it names no complete checkpoint)."""
    f = Path(run_dir) / "checkpoints" / STATE_FILE
    if not f.is_file():
        return None
    try:
        state = json.loads(f.read_text())
    except json.JSONDecodeError as exc:  # atomic writes make this a foreign or hand-edited file
        raise ValueError(f"{f}: not valid JSON ({exc}); delete the run folder's checkpoints/ to start over") from exc
    ckpt = f.parent / state.get("checkpoint", "last.keras")
    if not ckpt.is_file():
        raise ValueError(f"{f}: names checkpoint {ckpt.name}, which is missing; delete {f.parent} to start over")
    return {**state, "checkpoint_path": ckpt}


def trim_history(path: Path, epochs: int) -> None:
    """Keep the header and the first ``epochs`` rows of a CSVLogger file (rows of an epoch lost to a kill)."""
    if not path.is_file():
        return
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) > epochs + 1:
        with atomic.atomic_path(path) as tmp, open(tmp, "w", newline="") as out:
            csv.writer(out).writerows(rows[:epochs + 1])


class ValidationMacroF1(keras.callbacks.Callback):
    """Adds ``val_macro_f1`` to the epoch logs: macro F1 of the model on the validation windows.

    For early stopping and model selection on a figure that tracks the rare classes (a supraventricular
    beat missed costs as much as all the normal beats together), where the validation loss is dominated
    by the majority class. Must come before the callbacks that read it (CSVLogger, EpochCheckpoint).
    """

    def __init__(self, feed: dict, y: np.ndarray, classes: tuple[str, ...], multilabel: bool = False,
                 batch_size: int = 256):
        super().__init__()
        self.feed, self.y, self.classes, self.multilabel = feed, y, tuple(classes), multilabel
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        from .metrics import classification_report

        probs = np.asarray(self.model.predict(self.feed, batch_size=self.batch_size, verbose=0), np.float64)
        report = classification_report(self.y, probs, self.classes, multilabel=self.multilabel)
        if logs is not None:
            logs["val_macro_f1"] = float(report["macro"]["f1"])

