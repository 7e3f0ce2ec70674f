"""A run folder holds everything needed to reproduce, evaluate and export one training run.

    RUN/run.json             task, model and preprocessing configs, hyper-parameters, versions
    RUN/split.json           the audited record split (train / val / test, patient ids)
    RUN/normalization.json   per-lead z-score statistics fitted on the training windows only
    RUN/model.keras          best model on the validation partition
    RUN/checkpoints/         last.keras + state.json for --resume
    RUN/tensorboard/, RUN/history.csv, RUN/metrics.json, RUN/report.md, RUN/*.png
"""
from __future__ import annotations

import json
import platform
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from .. import atomic
from ..data.errors import DataError
from ..data.splits import Split

if TYPE_CHECKING:
    from ..preprocess import PreprocessConfig, ZScore


@dataclass
class RunConfig:
    task: str
    config: str
    model_config: dict
    preprocess: dict
    preprocess_hash: str
    loss: str = "focal"
    lr: float = 1e-3
    epochs: int = 30
    batch_size: int = 64
    seed: int = 0
    profile: str = "full"
    folds: int | None = None
    fold: int = 0
    train_fraction: float = 1.0
    init_from: str | None = None
    strategy: str = "default"
    max_per_record: int | None = None
    max_records: int | None = None  # seeded record sample before splitting (smoke runs)
    monitor: str = "val_loss"  # validation figure for early stopping and the best model
    class_scale: list[float] | None = None  # decision: per-class probability factors (Decision.class_scale)
    class_merge: list[int] | None = None  # decision: class each class's probability goes to (Decision.class_merge)
    prior_mode: str = "aligned"  # "shuffled": the guided-attention ablation control (preprocess.shuffle_priors)
    eval_max_per_record: int | None = None  # quick profile: held-out windows capped per record
    augment: dict | None = None
    balance: dict | None = None
    class_weights: list[float] = field(default_factory=list)
    data_dir: str = ""
    versions: dict = field(default_factory=dict)
    feature_head: dict | None = None  # linear head fused into model.keras (training.feature_head.apply_feature_head)
    execution: str = "graph"  # Keras steps as traced graphs or "eager" (quick runs: training.fit.resolve_execution)

    def preprocess_config(self) -> "PreprocessConfig":
        """The run's preprocessing as a typed config."""
        from ..preprocess import PreprocessConfig

        return PreprocessConfig.from_dict(self.preprocess)

    def save(self, run_dir: Path) -> None:
        atomic.write_json(Path(run_dir) / "run.json", asdict(self))

    @classmethod
    def load(cls, run_dir: Path) -> "RunConfig":
        f = Path(run_dir) / "run.json"
        if not f.is_file():
            raise FileNotFoundError(f"{f}: not a run folder (no run.json); train one with python -m ecgnet_tf.train")
        d = read_json(f)
        if not isinstance(d, dict):
            raise DataError(f"{f}: not a run.json of this project (a JSON object is expected)")
        known = {fl.name for fl in fields(cls)}
        missing = [fl.name for fl in fields(cls) if fl.default is MISSING and fl.default_factory is MISSING
                   and fl.name not in d]
        if missing:
            raise DataError(f"{f}: not a run.json of this project (missing {missing})")
        return cls(**{k: v for k, v in d.items() if k in known})


def versions() -> dict:
    import numpy
    import tensorflow as tf
    import tf_keras
    import wfdb

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
            "numpy": numpy.__version__, "wfdb": wfdb.__version__}


def read_json(path: Path):
    """A JSON file of a run folder; a missing or malformed file gives an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; is {path.parent} a complete run folder?")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def save_split(run_dir: Path, split: Split) -> None:
    atomic.write_json(Path(run_dir) / "split.json", split.to_dict())


def load_split(run_dir: Path) -> Split:
    f = Path(run_dir) / "split.json"
    try:
        return Split.from_dict(read_json(f))
    except (KeyError, TypeError) as exc:
        raise DataError(f"{f}: not a split of this project ({exc!r})") from exc


def save_zscore(run_dir: Path, zscore: "ZScore") -> None:
    atomic.write_json(Path(run_dir) / "normalization.json", zscore.to_dict())


def load_zscore(run_dir: Path) -> "ZScore":
    """The run's per-lead z-score statistics (fitted on its training windows)."""
    from ..preprocess import ZScore

    f = Path(run_dir) / "normalization.json"
    try:
        return ZScore.from_dict(read_json(f))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{f}: not z-score statistics ({exc!r})") from exc
