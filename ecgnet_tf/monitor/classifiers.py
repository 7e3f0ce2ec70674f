"""Window classifiers behind one small interface: a trained Keras run folder, or a LiteRT .tflite.

Everything the monitor needs to cut and normalise windows exactly like training did travels with
the classifier as a :class:`ecgnet_tf.runs.ModelSpec` (task, classes, preprocessing config, z-score,
window length, overlap, prior kind, decision rule).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..data.errors import DataError
from ..runs import ModelSpec, load_run_model, sidecar_metadata


@runtime_checkable
class WindowClassifier(Protocol):
    """``predict(ecg (B, T, C) z-scored float32, prior (B, T) in 0..1) -> probs (B, K)``."""

    spec: ModelSpec

    def predict(self, ecg: np.ndarray, prior: np.ndarray) -> np.ndarray: ...

    def predict_feed(self, feed: dict[str, np.ndarray]) -> np.ndarray: ...


class KerasRunClassifier:
    """The best model (``model.keras``) of a training run folder."""

    def __init__(self, run_dir: Path, batch_size: int = 32):
        run_dir = Path(run_dir)
        if not (run_dir / "model.keras").is_file():
            raise DataError(f"{run_dir}: no model.keras (not a finished training run)")
        self.spec = ModelSpec.from_run(run_dir)
        self.model = load_run_model(run_dir)
        self.batch_size = batch_size

    def predict(self, ecg: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """Probabilities (B, K) for z-scored ``ecg`` (B, T, C) and ``prior`` (B, T)."""
        return self.predict_feed({"ecg": ecg, "prior": prior})

    def predict_feed(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Probabilities (B, K) for prepared named inputs ("ecg" z-scored, "prior" (B, T) or (B, T, 1),
        "rr" (B, F) for models with a rhythm branch; see :meth:`ModelSpec.prepare`)."""
        missing = [n for n in self.spec.inputs if n not in feed]
        if missing:
            raise ValueError(f"model input(s) {missing} not fed (got {sorted(feed)})")
        arrays = {n: np.asarray(feed[n], np.float32) for n in self.spec.inputs}
        if arrays["prior"].ndim == 2:
            arrays["prior"] = arrays["prior"][..., None]
        n = len(arrays["ecg"])
        out = [np.asarray(self.model({k: v[a:a + self.batch_size] for k, v in arrays.items()}, training=False),
                          dtype=np.float64) for a in range(0, n, self.batch_size)]
        k = len(self.spec.classes)
        return np.concatenate(out) if out else np.zeros((0, k))


class TfliteClassifier:
    """A LiteRT model run at batch 1 on the project's TFLite runner
    (:class:`ecgnet_tf.export.tflite.TFLiteRunner`: inputs found by name ("ecg" / "prior"), int8 I/O
    quantised / de-quantised, LSTM state reset before every window).

    The spec comes from the sidecar ``M.json`` ("metadata" object) next to ``M.tflite``
    (:meth:`ModelSpec.from_sidecar_file`), else from ``run_dir`` (``--run``), else from the
    sidecar's ``metadata.run_dir`` when that folder exists (:meth:`ModelSpec.from_run`).
    """

    def __init__(self, path: Path, run_dir: Path | None = None, num_threads: int = 1):
        from ..export.tflite import TFLiteRunner

        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: model file not found")
        self.spec = self._spec(path, run_dir)
        try:
            self.runner = TFLiteRunner(path, num_threads=num_threads)
        except DataError:  # ModelFileError: already names the file
            raise
        except ValueError as exc:
            raise DataError(f"{path}: {exc}") from None
        self.interp = self.runner.interp
        self.ecg_in = self.runner.inputs["ecg"]
        self.prior_in = self.runner.inputs.get("prior")
        self.out = self.runner.outputs["probs"]

    @staticmethod
    def _spec(path: Path, run_dir: Path | None) -> ModelSpec:
        spec = ModelSpec.from_sidecar_file(path)
        if spec is not None:
            return spec
        sidecar = path.with_suffix(".json")
        meta = sidecar_metadata(path)
        if run_dir is None and meta.get("run_dir") and Path(meta["run_dir"]).is_dir():
            run_dir = Path(meta["run_dir"])
        if run_dir is None:
            raise DataError(f"{path}: {sidecar.name} has no usable metadata; pass --run RUN_DIR "
                            "(the training run the model was exported from)")
        return ModelSpec.from_run(run_dir)

    def predict(self, ecg: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """Probabilities (B, K) for z-scored ``ecg`` (B, T, C) and ``prior`` (B, T), one window at a time."""
        return self.predict_feed({"ecg": ecg, "prior": prior})

    def predict_feed(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Probabilities (B, K) for prepared named inputs (see :meth:`KerasRunClassifier.predict_feed`)."""
        if len(feed["ecg"]) == 0:
            return np.zeros((0, len(self.spec.classes)))
        return self.runner.predict_feed(feed)


def load_classifier(model: Path | str, run_dir: Path | str | None = None) -> WindowClassifier:
    """A run folder (with run.json) -> KerasRunClassifier; a ``.tflite`` file -> TfliteClassifier."""
    model = Path(model)
    if model.suffix == ".tflite":
        return TfliteClassifier(model, Path(run_dir) if run_dir else None)
    if model.is_dir():
        return KerasRunClassifier(model)
    if model.name == "model.keras" and model.is_file():
        return KerasRunClassifier(model.parent)
    raise DataError(f"{model}: not a run folder or a .tflite model")
