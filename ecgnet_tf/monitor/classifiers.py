"""Window classifiers behind one small interface: a trained Keras run folder, or a LiteRT .tflite.

Everything the monitor needs to cut and normalise windows exactly like training did travels with
the classifier as a :class:`ModelSpec` (task, classes, preprocessing config, z-score, window
length, overlap, prior kind).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .. import preprocess as pp
from ..data.errors import DataError


@dataclass(frozen=True)
class ModelSpec:
    """How windows must be made for a model.

    classes: class letters in output order. window_s: window length (s). overlap: fraction of a
    window shared with the next one (0.5 for 10-s rhythm windows). prior_kind: ``prior_map`` kind.
    preprocess: the training PreprocessConfig (its fs_out is the model rate, Hz). zscore: per-lead
    statistics fitted on the training windows.
    """

    task: str
    classes: tuple[str, ...]
    window_s: float
    overlap: float
    prior_kind: str
    preprocess: pp.PreprocessConfig
    zscore: pp.ZScore

    @property
    def n_leads(self) -> int:
        return int(self.zscore.mean.shape[0])

    @property
    def fs(self) -> float:
        """Model sampling rate in Hz."""
        return float(self.preprocess.fs_out)

    @property
    def window_samples(self) -> int:
        """Window length W in samples at the model rate."""
        return int(round(self.window_s * self.fs))

    @property
    def hop_samples(self) -> int:
        """Window hop in samples at the model rate (same formula as ``fixed_segments``)."""
        return max(1, int(round(self.window_samples * (1 - self.overlap))))


@runtime_checkable
class WindowClassifier(Protocol):
    """``predict(ecg (B, T, C) z-scored float32, prior (B, T) in 0..1) -> probs (B, K)``."""

    spec: ModelSpec

    def predict(self, ecg: np.ndarray, prior: np.ndarray) -> np.ndarray: ...


def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def spec_from_run(run_dir: Path) -> ModelSpec:
    """ModelSpec of a training run folder (run.json + normalization.json)."""
    from ..evaluate import load_zscore
    from ..training.rundir import RunConfig
    from ..training.tasks import get_task

    cfg = RunConfig.load(run_dir)
    task = get_task(cfg.task)
    return ModelSpec(task.name, tuple(task.classes), float(task.window_s), float(task.segment_overlap),
                     task.prior_kind, pp.PreprocessConfig(**_tuples(cfg.preprocess)), load_zscore(run_dir))


def spec_from_metadata(meta: dict) -> ModelSpec:
    """ModelSpec from a .tflite sidecar's ``metadata`` object (keys: task, classes, preprocess,
    normalization, window_s, prior_kind; optional segment_overlap)."""
    from ..training.tasks import TASKS

    task = TASKS.get(meta["task"])
    overlap = meta.get("segment_overlap", task.segment_overlap if task else 0.5)
    return ModelSpec(meta["task"], tuple(meta["classes"]), float(meta["window_s"]), float(overlap),
                     meta["prior_kind"], pp.PreprocessConfig(**_tuples(meta["preprocess"])),
                     pp.ZScore.from_dict(meta["normalization"]))


class KerasRunClassifier:
    """The best model (``model.keras``) of a training run folder."""

    def __init__(self, run_dir: Path, batch_size: int = 32):
        from ..evaluate import load_model

        run_dir = Path(run_dir)
        if not (run_dir / "model.keras").is_file():
            raise DataError(f"{run_dir}: no model.keras (not a finished training run)")
        self.spec = spec_from_run(run_dir)
        self.model = load_model(run_dir / "model.keras")
        self.batch_size = batch_size

    def predict(self, ecg: np.ndarray, prior: np.ndarray) -> np.ndarray:
        out = []
        for a in range(0, len(ecg), self.batch_size):
            feed = {"ecg": np.asarray(ecg[a:a + self.batch_size], np.float32),
                    "prior": np.asarray(prior[a:a + self.batch_size], np.float32)[..., None]}
            out.append(np.asarray(self.model(feed, training=False), dtype=np.float64))
        k = len(self.spec.classes)
        return np.concatenate(out) if out else np.zeros((0, k))


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float -> the input tensor's dtype using its (scale, zero_point); float inputs pass through."""
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype)
    scale, zp = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zp), info.min, info.max).astype(dtype)


def _dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(detail["dtype"], np.floating):
        return q.astype(np.float64)
    scale, zp = detail["quantization"]
    return (q.astype(np.float64) - zp) * scale


class TfliteClassifier:
    """A LiteRT model run at batch 1; inputs found by name ("ecg" / "prior"), int8 handled.

    The spec comes from the sidecar ``M.json`` ("metadata" object) next to ``M.tflite``, else from
    ``run_dir`` (``--run``), else from the sidecar's ``metadata.run_dir`` when that folder exists.
    """

    def __init__(self, path: Path, run_dir: Path | None = None, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: model file not found")
        self.spec = self._spec(path, run_dir)
        self.interp = Interpreter(model_path=str(path), num_threads=num_threads)
        self.interp.allocate_tensors()
        ins = self.interp.get_input_details()
        self.ecg_in = next((d for d in ins if "ecg" in d["name"].lower()), None)
        self.prior_in = next((d for d in ins if "prior" in d["name"].lower()), None)
        if self.ecg_in is None:
            raise DataError(f"{path}: no input named like 'ecg' ({[d['name'] for d in ins]})")
        self.out = self.interp.get_output_details()[0]

    @staticmethod
    def _spec(path: Path, run_dir: Path | None) -> ModelSpec:
        sidecar = path.with_suffix(".json")
        meta = json.loads(sidecar.read_text()).get("metadata") if sidecar.is_file() else None
        need = ("task", "classes", "preprocess", "normalization", "window_s", "prior_kind")
        if meta and all(k in meta for k in need):
            return spec_from_metadata(meta)
        if run_dir is None and meta and meta.get("run_dir") and Path(meta["run_dir"]).is_dir():
            run_dir = Path(meta["run_dir"])
        if run_dir is None:
            raise DataError(f"{path}: {sidecar.name} has no usable metadata; pass --run RUN_DIR "
                            "(the training run the model was exported from)")
        return spec_from_run(run_dir)

    def predict(self, ecg: np.ndarray, prior: np.ndarray) -> np.ndarray:
        out = np.zeros((len(ecg), len(self.spec.classes)))
        for i in range(len(ecg)):
            self.interp.set_tensor(self.ecg_in["index"], _quantize(np.asarray(ecg[i:i + 1], np.float32), self.ecg_in))
            if self.prior_in is not None:
                p = np.asarray(prior[i:i + 1], np.float32)[..., None]
                self.interp.set_tensor(self.prior_in["index"], _quantize(p, self.prior_in))
            self.interp.reset_all_variables()  # LSTM state would otherwise carry over between windows
            self.interp.invoke()
            out[i] = _dequantize(self.interp.get_tensor(self.out["index"]), self.out)[0]
        return out


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
