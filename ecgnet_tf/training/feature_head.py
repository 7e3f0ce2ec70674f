"""A linear second opinion for the beat classifier: logistic regression on each beat's RR-interval and
beat-template rows, fused with the network's probabilities.

The network already takes these rows as inputs, but it learns the DS1 patients as much as the beat
types; a linear model on the same rows (de Chazal et al. 2004 style, here with the patient-relative
template features) cannot memorise a patient's waveform. Their log-linear fusion

    P = softmax((1 - w) log P_network + w log P_head)

is the network alone at ``w = 0``. Everything is fitted on training records only:

* :func:`fit_feature_head`: multinomial logistic regression (class-balanced, L2 strength ``1 / c``) on
  standardised rows, returned as one affine map on the **raw** rows (the standardisation folded in),
  so it runs inside the model as :class:`~ecgnet_tf.model.layers.FeatureHeadFusion`.
* :func:`head_features`: the rows the head reads, exactly the model's ``rr`` input (the first
  ``rr_width`` RR columns) and, for models with the beat-template input, its ``morph`` columns.
* :func:`attach_feature_head`: the network with the fused output, same inputs, so evaluation,
  export, the monitor and the phone core run it unchanged.

The fusion weight is chosen by the beat study on out-of-fold predictions inside DS1
(:func:`ecgnet_tf.bench.beat_report.select_candidate`); DS2 never takes part.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: bias of a class the training rows lack (its head probability is ~e^-30 of the others')
ABSENT_CLASS_BIAS = -30.0


@dataclass(frozen=True)
class FeatureHeadConfig:
    """Settings of the linear head and the fusion weights the study tries."""

    c: float = 0.1  # inverse L2 strength of the logistic regression (on standardised rows)
    max_iter: int = 2000
    weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5)
    #: a class holding less than this share of the training rows is left out of the head (as if absent):
    #: a class-balanced fit on a handful of beats (DS1 holds ~8 Q beats in ~50,000) draws decision regions
    #: around them
    min_class_share: float = 0.001

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FeatureHead:
    """An affine map from raw feature rows (n, F) to class logits (n, K)."""

    kernel: np.ndarray  # (F, K)
    bias: np.ndarray  # (K,)

    def log_probs(self, x: np.ndarray) -> np.ndarray:
        """(n, K) log-softmax of the logits of raw rows ``x`` (n, F)."""
        z = np.asarray(x, np.float64) @ self.kernel + self.bias
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def to_dict(self) -> dict:
        return {"kernel": self.kernel.tolist(), "bias": self.bias.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureHead":
        return cls(np.asarray(d["kernel"], np.float64), np.asarray(d["bias"], np.float64))


def head_features(rr: np.ndarray, morph: np.ndarray | None, rr_width: int) -> np.ndarray:
    """The head's rows: the first ``rr_width`` columns of the beats' "rr" rows, then their "morph" rows
    (None or zero columns for a model without the template input)."""
    rr = np.asarray(rr, np.float32)
    morph = np.zeros((len(rr), 0), np.float32) if morph is None else np.asarray(morph, np.float32)
    if rr.ndim != 2 or morph.ndim != 2 or len(rr) != len(morph) or rr.shape[1] < rr_width or rr_width < 1:
        raise ValueError(f"need rr (n, >= {rr_width}) and morph (n, M) rows of the same beats, got "
                         f"{rr.shape} and {morph.shape}")
    return np.concatenate([rr[:, :rr_width], morph], axis=1)


def fit_feature_head(x: np.ndarray, y: np.ndarray, n_classes: int,
                     config: FeatureHeadConfig = FeatureHeadConfig()) -> FeatureHead:
    """Class-balanced multinomial logistic regression on training rows ``x`` (n, F) with labels ``y``
    (n,) in 0..n_classes-1, as an affine map on raw rows. Classes missing from ``y``, and those with
    less than ``config.min_class_share`` of the rows (dropped before the fit), get zero weights and bias
    :data:`ABSENT_CLASS_BIAS`."""
    from sklearn.linear_model import LogisticRegression

    x, y = np.asarray(x, np.float64), np.asarray(y, np.int64)
    if x.ndim != 2 or len(x) != len(y) or len(y) == 0:
        raise ValueError(f"need rows (n, F) with one label each, got {x.shape} and {y.shape}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    if config.min_class_share > 0:
        keep = np.bincount(y, minlength=n_classes)[y] >= config.min_class_share * len(y)
        x, y = x[keep], y[keep]
    present = np.unique(y)
    if present.size < 2:
        raise ValueError(f"the head needs at least two classes in its training rows, got {present.tolist()}")
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    lr = LogisticRegression(C=config.c, class_weight="balanced", max_iter=config.max_iter)
    lr.fit((x - mean) / std, y)
    coef = lr.coef_ if present.size > 2 else np.vstack([-lr.coef_[0] / 2, lr.coef_[0] / 2])
    icpt = lr.intercept_ if present.size > 2 else np.array([-lr.intercept_[0] / 2, lr.intercept_[0] / 2])
    kernel = np.zeros((x.shape[1], n_classes))
    bias = np.full(n_classes, ABSENT_CLASS_BIAS)
    kernel[:, present] = (coef / std[None, :]).T
    bias[present] = icpt - coef @ (mean / std)
    return FeatureHead(kernel, bias)


def fuse(probs: np.ndarray, head_log_probs: np.ndarray, weight: float, floor: float = 1e-6) -> np.ndarray:
    """``softmax((1 - w) log probs + w head_log_probs)``, rows (n, K); the numpy twin of
    :class:`~ecgnet_tf.model.layers.FeatureHeadFusion`."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"fusion weight must lie in [0, 1], got {weight}")
    z = (1.0 - weight) * np.log(np.maximum(np.asarray(probs, np.float64), floor)) + weight * head_log_probs
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def attach_feature_head(model, head: FeatureHead, weight: float):
    """``model`` (inputs "ecg", "prior", "rr" and optionally "morph"; output (B, K) probabilities) with
    its output fused with ``head`` at ``weight``: a new Keras model with the same inputs and layers
    (:func:`ecgnet_tf.model.fusion.fuse_feature_head`, fusing on the network's logits)."""
    from ..model.fusion import fuse_feature_head

    return fuse_feature_head(model, head.kernel, head.bias, weight)


#: the form of the fusion in ``model.keras`` (``run.json``'s ``feature_head.fusion``): "logits" since the
#: int8 export carries the head; a run without it (fused on probabilities) is rebuilt by apply_feature_head
FUSION_FORM = "logits"


#: the trained network of a run whose model.keras carries a feature head (what the head is fitted on top of)
NETWORK_FILE = "network.keras"


def beat_windows_rows(run_dir: Path, ids: list[str], data_dir: Path | None = None, cache_dir: Path | None = None,
                      max_per_record: int | None = None, memo: dict | None = None
                      ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(whole "rr" rows (n, 10), "morph" rows (n, M) or None, labels (n,)) of the windows of records
    ``ids`` of a beat run, in the order the run's evaluation predicts them (same window cap and seed).
    ``memo``: a dict reused between calls of one study (the same records with the same cap give the
    same rows)."""
    from ..runs import ModelSpec, RunConfig
    from ..settings import resolve_data_dir
    from ..tasks import iter_windows
    from .evaluation import run_records

    cfg, spec = RunConfig.load(run_dir), ModelSpec.from_run(run_dir)
    if "rr" not in spec.inputs:
        raise ValueError(f"{run_dir}: the feature head needs a model with the 'rr' input (config {cfg.config!r})")
    key = (tuple(ids), max_per_record, cfg.seed if max_per_record else None, "morph" in spec.inputs)
    if memo is not None and key in memo:
        return memo[key]
    data_dir = resolve_data_dir(data_dir or cfg.data_dir)
    trecs = run_records(run_dir, data_dir)
    rrs, morphs, ys = [], [], []
    for w in iter_windows(trecs, data_dir, list(ids), spec.preprocess, cache_dir=cache_dir,
                          max_per_record=max_per_record, seed=cfg.seed, desc="feature-head rows",
                          morph="morph" in spec.inputs):
        rrs.append(np.asarray(w.rr, np.float32))
        morphs.append(np.asarray(w.morph, np.float32))
        ys.append(w.y)
    out = (np.concatenate(rrs), np.concatenate(morphs) if "morph" in spec.inputs else None, np.concatenate(ys))
    if memo is not None:
        memo[key] = out
    return out


def network_rr_width(run_dir: Path) -> int:
    """Columns of the beat's rr row the run's network (and so its head) reads: ``model_config.rr_features``."""
    from ..runs import RunConfig

    return int(RunConfig.load(run_dir).model_config.get("rr_features", 0))


def beat_rows(run_dir: Path, ids: list[str], data_dir: Path | None = None, cache_dir: Path | None = None,
              max_per_record: int | None = None, memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(head rows (n, F), labels (n,)) of the windows of records ``ids`` of a beat run
    (:func:`beat_windows_rows`, :func:`head_features`)."""
    rr, morph, y = beat_windows_rows(run_dir, ids, data_dir, cache_dir, max_per_record, memo)
    return head_features(rr, morph, network_rr_width(run_dir)), y


def fit_run_head(run_dir: Path, data_dir: Path | None = None, cache_dir: Path | None = None,
                 config: FeatureHeadConfig = FeatureHeadConfig(), memo: dict | None = None) -> tuple[FeatureHead, int]:
    """The head of a beat run, fitted on its training and validation records' windows (never its test
    records), with the run's training window cap. Returns (head, number of rows)."""
    from ..runs import RunConfig, load_split
    from ..tasks import get_task

    cfg, split = RunConfig.load(run_dir), load_split(run_dir)
    ids = list(split.train) + list(split.val)
    if set(ids) & set(split.test):
        raise ValueError(f"{run_dir}: records both in training and test: {sorted(set(ids) & set(split.test))}")
    x, y = beat_rows(run_dir, ids, data_dir, cache_dir, cfg.max_per_record, memo)
    return fit_feature_head(x, y, len(get_task(cfg.task).classes), config), len(y)


def apply_feature_head(run_dir: Path, setting: dict | None, data_dir: Path | None = None,
                       cache_dir: Path | None = None) -> bool:
    """Give a trained beat run the feature head of ``setting`` (``{"weight": w, "config": {...}}``, as
    the beat study's selection chose it, optionally with ``"gate": {"threshold", "gated_class",
    "column"}``, a rhythm gate on the output, :mod:`ecgnet_tf.training.rhythm_gate`; None, or ``w =
    0`` without a gate: none). The head is fitted on the run's training and validation records and
    fused into ``model.keras``; the trained network is kept as ``network.keras`` and ``run.json``
    records the head. True when ``model.keras`` changed (its evaluations are then stale)."""
    import dataclasses
    import json
    import shutil

    from .. import atomic
    from ..runs import RunConfig, load_model

    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir)
    network = run_dir / NETWORK_FILE
    gate = None if not setting or not setting.get("gate") else json.loads(json.dumps(setting["gate"]))
    want = None if not setting or (float(setting["weight"]) == 0.0 and gate is None) else \
        {"weight": float(setting["weight"]), "config": json.loads(json.dumps(setting["config"])),  # as run.json has it
         "fusion": FUSION_FORM, "gate": gate}
    have = None if cfg.feature_head is None else \
        {k: cfg.feature_head.get(k) for k in ("weight", "config", "fusion", "gate")}
    if want == have:
        return False
    if want is None:  # back to the network alone
        with atomic.atomic_path(run_dir / "model.keras") as tmp:
            shutil.copyfile(network, tmp)
        dataclasses.replace(cfg, feature_head=None).save(run_dir)
        return True
    if not network.is_file():
        with atomic.atomic_path(network) as tmp:
            shutil.copyfile(run_dir / "model.keras", tmp)
    conf = FeatureHeadConfig(**{**want["config"], "weights": tuple(want["config"].get("weights", ()))})
    model, extra = load_model(network), {}
    if want["weight"] > 0:
        head, n = fit_run_head(run_dir, data_dir, cache_dir, conf)
        model = attach_feature_head(model, head, want["weight"])
        extra = {"head": head.to_dict(), "n_rows": n}
    if gate is not None:
        from ..model.fusion import rebuild

        model = rebuild(model, cfg.model_config, gate=gate)
    atomic.save_model(model, run_dir / "model.keras")
    dataclasses.replace(cfg, feature_head={**want, **extra}).save(run_dir)
    return True
