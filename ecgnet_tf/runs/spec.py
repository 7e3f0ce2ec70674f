"""What a deployed model needs besides its weights: one :class:`ModelSpec` for runs, sidecars and the phone.

A spec says how windows are cut (task layout), how they are normalised (the run's z-score), and how
window outputs become decisions (record aggregation, the noise class). It is read from a run folder
(:meth:`ModelSpec.from_run`) or from the ``metadata`` object of a ``.tflite`` sidecar
(:meth:`ModelSpec.from_sidecar`) and written there by :meth:`ModelSpec.to_sidecar`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from .. import preprocess as pp
from ..data.errors import DataError
from ..tasks import TASKS, TaskSpec, get_task
from ..tasks.inputs import window_samples
from .folder import RunConfig, load_zscore

#: keys a sidecar's ``metadata`` must hold to rebuild a spec without the run folder
SIDECAR_KEYS: tuple[str, ...] = ("task", "classes", "preprocess", "normalization", "window_s", "prior_kind")


def sidecar_metadata(model_path: Path) -> dict:
    """The ``metadata`` object of ``M.json`` next to ``M.tflite`` ({} when there is none); a sidecar
    that is not valid JSON gives an error naming it."""
    side = Path(model_path).with_suffix(".json")
    if not side.is_file():
        return {}
    try:
        return json.loads(side.read_text()).get("metadata") or {}
    except json.JSONDecodeError as exc:
        raise DataError(f"{side}: not valid JSON ({exc})") from exc


@dataclass(frozen=True)
class Decision:
    """How window outputs become decisions.

    aggregation: "mean" averages the probabilities of a record's windows that passed the quality
    gate ("none": one decision per window, beat tasks). noise_class: class given to a record whose
    windows all fail the gate (None: average all its windows instead). class_merge: for each class,
    the index of the class its probability is added to (itself = kept), e.g. (0, 1, 2, 0, 4) reads
    the beat model's F output as N; a merged class is never decided. class_scale: per-class factors
    applied after merging (class priors). Both are chosen on training data only (e.g. by
    cross-validation inside MIT-BIH DS1); None = as the model outputs them.
    """

    aggregation: str = "none"
    noise_class: str | None = None
    class_scale: tuple[float, ...] | None = None
    class_merge: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.class_scale is not None:
            scale = tuple(float(v) for v in self.class_scale)
            if not scale or any(not np.isfinite(v) or v <= 0 for v in scale):
                raise ValueError(f"class_scale must be positive finite numbers, got {list(self.class_scale)}")
            object.__setattr__(self, "class_scale", scale)
        if self.class_merge is not None:
            into = tuple(int(v) for v in self.class_merge)
            k = len(into)
            if not into or any(not 0 <= v < k for v in into) or any(into[v] != v for v in into):
                raise ValueError(f"class_merge must give, per class, a class index that is kept itself; "
                                 f"got {list(self.class_merge)}")
            if self.class_scale is not None and len(self.class_scale) != k:
                raise ValueError(f"class_merge has {k} entries but class_scale {len(self.class_scale)}")
            object.__setattr__(self, "class_merge", into)

    @property
    def changes_probs(self) -> bool:
        """True when :meth:`rescale` changes probabilities (a merge or class factors are set)."""
        return self.class_scale is not None or self.class_merge is not None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["class_scale"] = None if self.class_scale is None else list(self.class_scale)
        d["class_merge"] = None if self.class_merge is None else list(self.class_merge)
        return d

    def rescale(self, probs: np.ndarray) -> np.ndarray:
        """Single-label class probabilities (n, K) with merged classes added to their targets, then
        multiplied by ``class_scale`` and renormalised to sum 1 (unchanged when neither is set)."""
        probs = np.asarray(probs, dtype=np.float64)
        if not self.changes_probs or probs.size == 0:
            return probs
        if self.class_merge is not None:
            if len(self.class_merge) != probs.shape[1]:
                raise ValueError(f"class_merge has {len(self.class_merge)} entries for {probs.shape[1]} classes")
            merged = np.zeros_like(probs)
            for src, dst in enumerate(self.class_merge):
                merged[:, dst] += probs[:, src]
            probs = merged
        if self.class_scale is None:
            return probs
        if len(self.class_scale) != probs.shape[1]:
            raise ValueError(f"class_scale has {len(self.class_scale)} values for {probs.shape[1]} classes")
        scaled = probs * np.asarray(self.class_scale)
        return scaled / np.maximum(scaled.sum(axis=1, keepdims=True), 1e-12)


def task_decision(task: TaskSpec) -> Decision:
    """A task's decision rule: record-level tasks average their windows; "~" is the noise class."""
    return Decision("mean" if task.record_level else "none", "~" if "~" in task.classes else None)


@dataclass(frozen=True)
class ModelSpec:
    """How inputs must be made for a model and how its outputs are read.

    classes: class names in output order. window_s: window length (s). segment_overlap: fraction
    of a window shared with the next (segment tasks). prior_kind: ``prior_map`` kind ("beat" =
    windows centred on beats). preprocess: the training PreprocessConfig (its fs_out is the model
    rate, Hz). zscore: per-lead statistics fitted on the training windows only. inputs: the model's
    named inputs ("ecg", "prior", and "rr" for models with a rhythm branch). prior_mode: "aligned",
    or "shuffled" for the guided-attention ablation control (each window gets another window's prior
    map, :func:`~ecgnet_tf.preprocess.shuffle_priors`). rr_width: columns of the "rr" input for beat
    models (a prefix of the beat's rr row, :data:`~ecgnet_tf.tasks.inputs.BEAT_RR_NAMES`): 8, the RR
    features only (every model before the context columns), or 10 with them (the ``edge-rrtc``
    network, or a network with a rhythm gate after it, which reads column 10); segment models take
    their rhythm row whole.
    """

    task: str
    classes: tuple[str, ...]
    window_s: float
    segment_overlap: float
    prior_kind: str
    preprocess: pp.PreprocessConfig
    zscore: pp.ZScore
    multilabel: bool = False
    decision: Decision = field(default_factory=Decision)
    inputs: tuple[str, ...] = ("ecg", "prior")
    prior_mode: str = "aligned"
    rr_width: int = len(pp.RR_FEATURE_NAMES)

    # ------------------------------------------------------------------ construction
    @classmethod
    def for_task(cls, task_name: str, preprocess: pp.PreprocessConfig, zscore: pp.ZScore,
                 inputs: tuple[str, ...] = ("ecg", "prior")) -> "ModelSpec":
        task = get_task(task_name)
        return cls(task.name, tuple(task.classes), float(task.window_s), float(task.segment_overlap),
                   task.prior_kind, preprocess, zscore, task.multilabel, task_decision(task), tuple(inputs))

    @classmethod
    def from_run(cls, run_dir: Path) -> "ModelSpec":
        """Spec of a training run folder (run.json + normalization.json)."""
        cfg = RunConfig.load(run_dir)
        inputs = (("ecg", "prior") + (("rr",) if cfg.model_config.get("rr_features", 0) else ())
                  + (("morph",) if cfg.model_config.get("morph_features", 0) else ()))
        spec = cls.for_task(cfg.task, cfg.preprocess_config(), load_zscore(run_dir), inputs)
        if cfg.prior_mode != "aligned":
            spec = dataclasses.replace(spec, prior_mode=cfg.prior_mode)
        if cfg.model_config.get("rr_features", 0):
            spec = dataclasses.replace(spec, rr_width=int(cfg.model_config["rr_features"]))
        gate = (cfg.feature_head or {}).get("gate")
        if gate:  # a rhythm gate reads a column after the network's (model.fusion.add_rhythm_gate)
            spec = dataclasses.replace(spec, rr_width=max(spec.rr_width, int(gate["column"]) + 1))
        if cfg.class_scale is not None or cfg.class_merge is not None:
            spec = dataclasses.replace(spec, decision=dataclasses.replace(
                spec.decision, class_scale=None if cfg.class_scale is None else tuple(cfg.class_scale),
                class_merge=None if cfg.class_merge is None else tuple(cfg.class_merge)))
        return spec

    @classmethod
    def from_sidecar(cls, meta: Mapping) -> "ModelSpec":
        """Spec from a sidecar's ``metadata`` object (see :data:`SIDECAR_KEYS`)."""
        missing = [k for k in SIDECAR_KEYS if k not in meta]
        if missing:
            raise DataError(f"model metadata lacks {missing}")
        task = TASKS.get(meta["task"])
        overlap = meta.get("segment_overlap", task.segment_overlap if task else 0.5)
        multilabel = meta.get("multilabel", task.multilabel if task else False)
        d = meta.get("decision")
        decision = Decision(**d) if d is not None else task_decision(task) if task is not None else Decision()
        return cls(meta["task"], tuple(meta["classes"]), float(meta["window_s"]), float(overlap),
                   meta["prior_kind"], pp.PreprocessConfig.from_dict(meta["preprocess"]),
                   pp.ZScore.from_dict(meta["normalization"]), bool(multilabel), decision,
                   tuple(meta.get("inputs", ("ecg", "prior"))), meta.get("prior_mode", "aligned"),
                   int(meta.get("rr_width", len(pp.RR_FEATURE_NAMES))))

    @classmethod
    def from_sidecar_file(cls, path: Path) -> "ModelSpec | None":
        """Spec from ``M.json`` next to ``M.tflite`` (None when absent or incomplete)."""
        meta = sidecar_metadata(path)
        return cls.from_sidecar(meta) if all(k in meta for k in SIDECAR_KEYS) else None

    def to_sidecar(self) -> dict:
        """The ``metadata`` object written next to an exported model."""
        extra = {"prior_mode": self.prior_mode} if self.prior_mode != "aligned" else {}
        if "rr" in self.inputs and self.prior_kind == "beat" and self.rr_width != len(pp.RR_FEATURE_NAMES):
            extra["rr_width"] = self.rr_width  # older readers assume 8
        return {"task": self.task, "classes": list(self.classes), "multilabel": self.multilabel,
                "window_s": self.window_s, "segment_overlap": self.segment_overlap, "prior_kind": self.prior_kind,
                "preprocess": self.preprocess.to_dict(), "preprocess_hash": pp.config_hash(self.preprocess),
                "normalization": self.zscore.to_dict(), "decision": self.decision.to_dict(),
                "inputs": list(self.inputs), **extra}

    # ------------------------------------------------------------------ geometry
    @property
    def n_leads(self) -> int:
        return int(np.asarray(self.zscore.mean).shape[0])

    @property
    def fs(self) -> float:
        """Model sampling rate in Hz."""
        return float(self.preprocess.fs_out)

    @property
    def window_samples(self) -> int:
        """Window length W in samples at the model rate."""
        return window_samples(self, self.fs)

    @property
    def hop_samples(self) -> int:
        """Window hop in samples at the model rate (same formula as ``fixed_segments``)."""
        return max(1, int(round(self.window_samples * (1 - self.segment_overlap))))

    # ------------------------------------------------------------------ inputs, outputs, decisions
    def prepare(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Named model inputs -> the tensors the model takes.

        ``inputs``: "ecg" (n, T, C) preprocessed windows in mV (z-scored here with the run's
        statistics), "prior" (n, T) or (n, T, 1) prior maps and, for models with a rhythm branch,
        "rr" (n, F): the beat's RR-interval features (beat tasks) or the window's rhythm features
        (segment tasks), all >= 0 (the model log-compresses them), and for models with the
        beat-template input "morph" (n, M) (:func:`ecgnet_tf.preprocess.template_features`). Returns
        exactly the model's inputs (:attr:`inputs`): {"ecg": (n, T, C) float32, "prior": (n, T, 1)
        float32, "rr": (n, F) float32, "morph": (n, M) float32}. New model inputs are added here, keyed by name.
        """
        missing = [k for k in self.inputs if k not in inputs]
        if missing:
            raise ValueError(f"model inputs need {list(self.inputs)}; missing {missing} (got {sorted(inputs)})")
        prior = np.asarray(inputs["prior"], np.float32)
        if self.prior_mode == "shuffled":
            prior = pp.shuffle_priors(prior)
        feed = {"ecg": self.zscore.transform(np.asarray(inputs["ecg"])).astype(np.float32),
                "prior": prior if prior.ndim == 3 else prior[..., None]}
        if "rr" in self.inputs:
            rr = np.asarray(inputs["rr"], np.float32)
            if self.prior_kind == "beat":  # beat rows carry RR features + context; the model takes a prefix
                if rr.ndim != 2 or rr.shape[1] < self.rr_width:
                    raise ValueError(f"the model's 'rr' input takes {self.rr_width} columns per beat, got shape "
                                     f"{rr.shape}")
                rr = rr[:, :self.rr_width]
            feed["rr"] = rr
        if "morph" in self.inputs:
            feed["morph"] = np.asarray(inputs["morph"], np.float32)
        return feed

    def predict(self, model, inputs: Mapping[str, np.ndarray], batch_size: int = 128) -> np.ndarray:
        """Class probabilities (n, K) of a Keras model (or any object with ``predict(feed)``) for raw named inputs."""
        feed = self.prepare(inputs)
        k = len(self.classes)
        if len(feed["ecg"]) == 0:
            return np.zeros((0, k))
        return np.asarray(model.predict(feed, batch_size=batch_size, verbose=0), dtype=np.float64).reshape(-1, k)

    def decide(self, records: np.ndarray, probs: np.ndarray, ok: np.ndarray | None = None
               ) -> tuple[list[str], np.ndarray]:
        """Window probabilities -> decisions.

        With ``decision.aggregation == "mean"``: one row per record (in first-seen order), the mean
        probability of its windows that passed the quality gate (``ok``); a record whose windows all
        fail gets ``decision.noise_class`` when set, else the mean of all its windows. Otherwise the
        window rows are returned unchanged. Returns (ids, probabilities).
        """
        records = np.asarray(records)
        probs = np.asarray(probs, dtype=np.float64)
        ok = np.ones(len(records), bool) if ok is None else np.asarray(ok, bool)
        if self.decision.changes_probs and not self.multilabel:
            probs = self.decision.rescale(probs)
        if self.decision.aggregation == "none":
            return records.tolist(), probs
        if self.decision.aggregation != "mean":
            raise ValueError(f"unknown aggregation {self.decision.aggregation!r}")
        noise = self.classes.index(self.decision.noise_class) if self.decision.noise_class in self.classes else None
        ids = list(dict.fromkeys(records.tolist()))
        out = []
        for rid in ids:
            m = records == rid
            good = m & ok
            if good.any():
                out.append(probs[good].mean(axis=0))
            elif noise is not None:
                out.append(np.eye(probs.shape[1])[noise])
            else:
                out.append(probs[m].mean(axis=0))
        return ids, np.asarray(out).reshape(len(ids), probs.shape[1])
