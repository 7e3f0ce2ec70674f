"""The quality gate: hard rules plus a logistic score over the signal-quality indices.

A window is rejected when a hard rule fires (FLAT_LINE, CLIPPING, SATURATION: a signal no
classifier can read) or when the logistic probability that it comes from a record labelled too
noisy to classify exceeds ``window_threshold``. The reason given for a score rejection is the gate
feature that pushed the score up most relative to clean training windows (:data:`GATE_FEATURES`).
A record (or any stretch of windows) is unreadable when at least ``record_fraction`` of its windows
are rejected.

The gate is data, not code: a JSON file with the feature scaling, the coefficients, the thresholds
and where they were fitted (:func:`load_gate`, :func:`save_gate`). The shipped gate
(``default_gate.json`` in this package, :func:`default_gate`) is written by
``python -m ecgnet_tf.quality_study`` from CinC 2017 training records only.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.errors import DataError
from ..preprocess.sqi import SQI_NAMES
from .features import GATE_FEATURES, gate_features

DEFAULT_GATE_PATH = Path(__file__).with_name("default_gate.json")
HARD_REASONS: tuple[str, ...] = ("FLAT_LINE", "CLIPPING", "SATURATION", "HF_NOISE")
SCORE_REASONS: tuple[str, ...] = tuple(r for r in dict.fromkeys(GATE_FEATURES.values()) if r not in HARD_REASONS)
REASONS: tuple[str, ...] = HARD_REASONS + SCORE_REASONS


@dataclass(frozen=True)
class HardRules:
    """Thresholds of the hard rules (s, mV, fractions).

    flat_s / min_amplitude_mv: FLAT_LINE when a constant run lasts this long or the robust amplitude
    is below this. clipped_fraction: CLIPPING above this share of samples at a rail. saturation_mv:
    SATURATION above this robust amplitude. hf_share: HF_NOISE when the 40-100 Hz share of the
    0.5-100 Hz power exceeds this (white noise has about 0.6; clean MIT-BIH windows 0.003 median,
    0.012 at the 90th percentile).
    """

    flat_s: float = 1.0
    min_amplitude_mv: float = 0.025
    clipped_fraction: float = 0.03
    saturation_mv: float = 5.0
    hf_share: float = 0.20


@dataclass(frozen=True)
class QualityGate:
    """A fitted gate. ``mean``/``scale``/``coef``/``reference`` follow :data:`GATE_FEATURES`;
    ``reference`` is the mean standardised feature of clean training windows (reason attribution)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    reference: tuple[float, ...]
    window_threshold: float
    record_fraction: float = 0.5
    window_s: float = 10.0
    step_s: float = 5.0
    hard: HardRules = HardRules()
    features: tuple[str, ...] = tuple(GATE_FEATURES)
    fitted_on: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.features) != tuple(GATE_FEATURES):
            raise DataError(f"gate features {list(self.features)} differ from this version's {list(GATE_FEATURES)}")
        k = len(GATE_FEATURES)
        for name in ("mean", "scale", "coef", "reference"):
            if len(getattr(self, name)) != k:
                raise DataError(f"gate field {name!r} has {len(getattr(self, name))} values, expected {k}")

    def score(self, sqis: np.ndarray) -> np.ndarray:
        """(m,) probability in [0, 1] that each window is unreadable, from (m, len(SQI_NAMES)) indices."""
        z = (gate_features(sqis) - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept)))

    def hard_reasons(self, sqis: np.ndarray) -> list[tuple[str, ...]]:
        """The hard rules each window breaks (empty tuple when none)."""
        s = np.atleast_2d(sqis)
        col = {k: s[:, i] for i, k in enumerate(SQI_NAMES)}
        h = self.hard
        flat = (col["flat_s"] >= h.flat_s) | (col["amplitude_mv"] < h.min_amplitude_mv)
        clip = (col["clipped_fraction"] > h.clipped_fraction) & ~flat
        sat = col["amplitude_mv"] > h.saturation_mv
        hf = (col["hfsqi"] > h.hf_share) & ~flat
        return [tuple(r for r, on in zip(HARD_REASONS, flags) if on) for flags in zip(flat, clip, sat, hf)]

    def score_reason(self, sqis: np.ndarray) -> list[str]:
        """Per window, the reason named by the feature contributing most to its score."""
        z = (gate_features(sqis) - np.asarray(self.mean)) / np.asarray(self.scale)
        contrib = (z - np.asarray(self.reference)) * np.asarray(self.coef)
        names = list(GATE_FEATURES.values())
        return [names[j] for j in contrib.argmax(axis=1)]

    def decide(self, sqis: np.ndarray) -> "GateDecisions":
        """Decisions for (m, len(SQI_NAMES)) window indices."""
        s = np.atleast_2d(np.asarray(sqis, np.float64))
        score = self.score(s)
        hard = self.hard_reasons(s)
        soft = self.score_reason(s)
        reasons = [h if h else ((r,) if p > self.window_threshold else ()) for h, r, p in zip(hard, soft, score)]
        ok = np.array([not r for r in reasons], bool)
        return GateDecisions(ok=ok, score=score, reasons=reasons)

    def record_unreadable(self, ok: np.ndarray) -> bool:
        """True when at least ``record_fraction`` of the windows ``ok`` (bool) were rejected."""
        ok = np.asarray(ok, bool)
        return bool(ok.size and (1.0 - ok.mean()) >= self.record_fraction)


@dataclass(frozen=True)
class GateDecisions:
    """ok (m,) bool, score (m,) in [0, 1], reasons: per window a tuple (empty when ok)."""

    ok: np.ndarray
    score: np.ndarray
    reasons: list

    def reason_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.reasons:
            if r:
                out[r[0]] = out.get(r[0], 0) + 1
        return dict(sorted(out.items()))


def gate_to_dict(gate: QualityGate) -> dict:
    d = asdict(gate)
    d["features"] = list(gate.features)
    return d


def gate_from_dict(d: dict) -> QualityGate:
    try:
        d = dict(d)
        d["hard"] = HardRules(**d.get("hard", {}))
        for k in ("mean", "scale", "coef", "reference", "features"):
            d[k] = tuple(d[k])
        return QualityGate(**d)
    except (KeyError, TypeError) as e:
        raise DataError(f"not a quality-gate description: {e}") from e


def save_gate(gate: QualityGate, path: Path) -> None:
    from ..atomic import write_text

    write_text(Path(path), json.dumps(gate_to_dict(gate), indent=1, sort_keys=True) + "\n")


def load_gate(path: Path | str) -> QualityGate:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"quality gate {path} does not exist")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"quality gate {path} is not valid JSON: {e}") from e
    return gate_from_dict(d)


def default_gate() -> QualityGate:
    """The shipped gate (fitted on CinC 2017 training records by ``python -m ecgnet_tf.quality_study``)."""
    if not DEFAULT_GATE_PATH.is_file():
        raise DataError(f"the shipped quality gate {DEFAULT_GATE_PATH} is missing: run "
                        "`python -m ecgnet_tf.quality_study --stages fit` to create it")
    return load_gate(DEFAULT_GATE_PATH)


def gate_digest(gate: QualityGate) -> str:
    """Short content hash of a gate (for reports and caches)."""
    return hashlib.sha256(json.dumps(gate_to_dict(gate), sort_keys=True).encode()).hexdigest()[:12]
