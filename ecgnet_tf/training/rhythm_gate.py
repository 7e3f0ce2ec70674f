"""The rhythm gate of a beat model: no supraventricular (S) beat while the recent rhythm is irregular.

An S beat is mostly "early for this patient". In atrial fibrillation every beat is early or late
against the last ones, and AAMI labels those beats N, so a beat model that reads prematurity calls
many of them S: inside MIT-BIH DS1, most of the out-of-fold S false positives come from the two
records with atrial fibrillation. The gate reads the recent rhythm's irregularity, the
``recent_msd_ratio`` column of the beat's "rr" row (:func:`ecgnet_tf.preprocess.rr_context`: mean
absolute difference of the previous beats' successive RR intervals over their mean, causal) and,
above a threshold, takes the S probability away (:class:`~ecgnet_tf.model.layers.RhythmGate` in the
model, :func:`gate_probs` here).

The threshold (or no gate) is chosen by the beat study on out-of-fold predictions inside DS1
(:func:`ecgnet_tf.bench.beat_report.select_candidate`), with the feature-head weight; DS2 never
takes part.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..tasks.inputs import BEAT_RR_NAMES


@dataclass(frozen=True)
class GateConfig:
    """What the study tries: the gated class, the "rr" column read (a name of
    :data:`~ecgnet_tf.tasks.inputs.BEAT_RR_NAMES`) and the thresholds (dimensionless; no gate is
    always tried too)."""

    gated_class: str = "S"
    column: str = "recent_msd_ratio"
    thresholds: tuple[float, ...] = (0.1, 0.15, 0.2, 0.3)

    def __post_init__(self) -> None:
        if self.column not in BEAT_RR_NAMES:
            raise ValueError(f"unknown rr column {self.column!r}; valid: {', '.join(BEAT_RR_NAMES)}")
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        if any(not np.isfinite(t) or t <= 0 for t in self.thresholds):
            raise ValueError(f"thresholds must be positive numbers, got {list(self.thresholds)}")

    @property
    def column_index(self) -> int:
        return BEAT_RR_NAMES.index(self.column)

    def setting(self, threshold: float, classes: tuple[str, ...]) -> dict:
        """The gate as the model and ``run.json`` hold it: {"threshold", "gated_class", "column"} (indices)."""
        if self.gated_class not in classes:
            raise ValueError(f"class {self.gated_class!r} is not in {list(classes)}")
        return {"threshold": float(threshold), "gated_class": classes.index(self.gated_class),
                "column": self.column_index}

    def to_dict(self) -> dict:
        return asdict(self)


def gate_probs(probs: np.ndarray, values: np.ndarray, threshold: float, gated_class: int) -> np.ndarray:
    """Probabilities (n, K) with class ``gated_class`` set to 0 where ``values`` (n,) exceed
    ``threshold`` and those rows renormalised; the numpy twin of
    :class:`~ecgnet_tf.model.layers.RhythmGate`."""
    p = np.array(probs, dtype=np.float64)
    v = np.asarray(values, np.float64)
    if p.ndim != 2 or v.shape != (len(p),):
        raise ValueError(f"need probabilities (n, K) and one value per row, got {p.shape} and {v.shape}")
    if not 0 <= gated_class < p.shape[1]:
        raise ValueError(f"gated_class {gated_class} is not one of the {p.shape[1]} classes")
    gated = v > threshold
    p[gated, gated_class] = 0.0
    p[gated] /= np.maximum(p[gated].sum(axis=1, keepdims=True), 1e-12)
    return p
