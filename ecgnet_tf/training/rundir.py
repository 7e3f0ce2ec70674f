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
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..data.splits import Split


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
    eval_max_per_record: int | None = None  # quick profile: held-out windows capped per record
    augment: dict | None = None
    balance: dict | None = None
    class_weights: list[float] = field(default_factory=list)
    data_dir: str = ""
    versions: dict = field(default_factory=dict)

    def save(self, run_dir: Path) -> None:
        (Path(run_dir) / "run.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, run_dir: Path) -> "RunConfig":
        f = Path(run_dir) / "run.json"
        if not f.is_file():
            raise FileNotFoundError(f"{f}: not a run folder (no run.json); train one with python -m ecgnet_tf.train")
        return cls(**json.loads(f.read_text()))


def versions() -> dict:
    import numpy
    import tensorflow as tf
    import tf_keras
    import wfdb

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
            "numpy": numpy.__version__, "wfdb": wfdb.__version__}


def save_split(run_dir: Path, split: Split) -> None:
    (Path(run_dir) / "split.json").write_text(json.dumps(split.to_dict(), indent=2))


def load_split(run_dir: Path) -> Split:
    return Split.from_dict(json.loads((Path(run_dir) / "split.json").read_text()))
