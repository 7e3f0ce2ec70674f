"""Per-epoch checkpoints, best-model saving and early stopping that survive a restart (``--resume``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tf_keras as keras


class EpochCheckpoint(keras.callbacks.Callback):
    """Save ``last.keras`` every epoch and ``model.keras`` on improvement of ``monitor``; stop early.

    The epoch, best value and patience counter go to ``state.json`` so a resumed run continues
    exactly where it stopped, early-stopping state included.
    """

    def __init__(self, run_dir: Path, monitor: str = "val_loss", patience: int = 5, state: dict | None = None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.monitor = monitor
        self.patience = patience
        state = state or {}
        self.best = float(state.get("best", np.inf))
        self.wait = int(state.get("wait", 0))
        self.epoch = int(state.get("epoch", 0))

    @property
    def state_path(self) -> Path:
        return self.run_dir / "checkpoints" / "state.json"

    @property
    def last_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.keras"

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = float(logs.get(self.monitor, np.inf))
        self.epoch = epoch + 1
        if value < self.best:
            self.best, self.wait = value, 0
            self.model.save(self.run_dir / "model.keras")
        else:
            self.wait += 1
        self.last_path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(self.last_path)
        self.state_path.write_text(json.dumps(
            {"epoch": self.epoch, "best": self.best, "wait": self.wait, "monitor": self.monitor}, indent=2))
        if self.wait >= self.patience:
            self.model.stop_training = True


def read_state(run_dir: Path) -> dict | None:
    """The saved checkpoint state of a run, or None when it has none."""
    f = Path(run_dir) / "checkpoints" / "state.json"
    return json.loads(f.read_text()) if f.is_file() else None
