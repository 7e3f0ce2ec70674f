"""Fitting the quality gate on labelled training records, and scoring it on held-out ones.

Labels are per record (CinC 2017: ``~`` = too noisy to classify); each window inherits its
record's label. The logistic model is fitted on the windows that pass the hard rules. The window
threshold is chosen on **out-of-fold** scores of the training records (record-grouped inner
folds), as the smallest threshold whose record-level false-rejection rate on clean training
records stays within ``target_frr``; then the model is refitted on all training windows. Nothing
here ever sees a test record: :func:`fit_gate` takes training rows only and
:func:`record_flags` only applies a fitted gate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import GATE_FEATURES, gate_features
from .gate import HardRules, QualityGate


@dataclass(frozen=True)
class GateFitConfig:
    """target_frr: allowed record-level false rejection on clean training records (out of fold);
    record_fraction: share of rejected windows that makes a record unreadable; C: inverse L2 strength."""

    target_frr: float = 0.04
    record_fraction: float = 0.5
    inner_folds: int = 5
    C: float = 1.0
    seed: int = 0
    n_thresholds: int = 400


def _lr(C: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)


def record_rejected_fraction(rejected: np.ndarray, window_record: np.ndarray, n_records: int) -> np.ndarray:
    """Per record (index 0..n_records-1), the fraction of its windows in ``rejected``."""
    tot = np.bincount(window_record, minlength=n_records)
    rej = np.bincount(window_record, weights=rejected.astype(np.float64), minlength=n_records)
    return np.where(tot > 0, rej / np.maximum(tot, 1), 0.0)


def threshold_curve(score: np.ndarray, hard: np.ndarray, window_record: np.ndarray, noisy: np.ndarray,
                    record_fraction: float, n_thresholds: int = 400) -> dict[str, np.ndarray]:
    """Record-level sensitivity (noisy records flagged) and false rejection (clean records flagged)
    for thresholds spanning the window scores: ``{"threshold", "sensitivity", "false_rejection"}``."""
    ts = np.unique(np.quantile(score, np.linspace(0.0, 1.0, n_thresholds)))
    ts = np.r_[ts, 1.0 + 1e-9]
    n_rec = noisy.size
    se, frr = np.empty(ts.size), np.empty(ts.size)
    for i, t in enumerate(ts):
        flagged = record_rejected_fraction(hard | (score > t), window_record, n_rec) >= record_fraction
        se[i] = flagged[noisy].mean() if noisy.any() else np.nan
        frr[i] = flagged[~noisy].mean() if (~noisy).any() else np.nan
    return {"threshold": ts, "sensitivity": se, "false_rejection": frr}


def fit_gate(sqis: np.ndarray, window_record: np.ndarray, noisy: np.ndarray,
             cfg: GateFitConfig = GateFitConfig(), hard_rules: HardRules = HardRules(),
             window_s: float = 10.0, step_s: float = 5.0, fitted_on: dict | None = None
             ) -> tuple[QualityGate, dict]:
    """Fit a gate on training windows.

    Args:
        sqis: (m, len(SQI_NAMES)) indices of every training window.
        window_record: (m,) index of each window's record (0..R-1).
        noisy: (R,) bool, the record is labelled unreadable.
    Returns:
        (gate, info) where info holds the out-of-fold threshold curve and the chosen operating point.
    """
    from sklearn.model_selection import GroupKFold

    window_record = np.asarray(window_record, np.int64)
    noisy = np.asarray(noisy, bool)
    X = gate_features(sqis)
    y = noisy[window_record].astype(np.int64)
    probe = QualityGate(mean=(0.0,) * len(GATE_FEATURES), scale=(1.0,) * len(GATE_FEATURES),
                        coef=(0.0,) * len(GATE_FEATURES), intercept=0.0, reference=(0.0,) * len(GATE_FEATURES),
                        window_threshold=1.0, hard=hard_rules)
    hard = np.array([bool(r) for r in probe.hard_reasons(sqis)], bool)
    soft = ~hard
    if len(np.unique(y[soft])) < 2:  # every noisy window breaks a hard rule: fit on all windows
        soft = np.ones_like(hard)
    if len(np.unique(y)) < 2:
        raise ValueError(f"the gate needs noisy and clean training records; got {int(noisy.sum())} noisy "
                         f"of {noisy.size}")
    mean = X[soft].mean(axis=0)
    scale = X[soft].std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = (X - mean) / scale

    oof = np.zeros(len(Z))
    idx = np.flatnonzero(soft)
    k = min(cfg.inner_folds, len(np.unique(window_record[idx])))
    for tr, va in GroupKFold(n_splits=k).split(Z[idx], y[idx], window_record[idx]):
        m = _lr(cfg.C, cfg.seed).fit(Z[idx[tr]], y[idx[tr]])
        oof[idx[va]] = m.predict_proba(Z[idx[va]])[:, 1]
    curve = threshold_curve(oof, hard, window_record, noisy, cfg.record_fraction, cfg.n_thresholds)
    ok = np.flatnonzero(curve["false_rejection"] <= cfg.target_frr)
    pick = int(ok[0]) if ok.size else len(curve["threshold"]) - 1
    threshold = float(curve["threshold"][pick])

    final = _lr(cfg.C, cfg.seed).fit(Z[soft], y[soft])
    reference = Z[soft & (y == 0)].mean(axis=0)
    gate = QualityGate(mean=tuple(map(float, mean)), scale=tuple(map(float, scale)),
                       coef=tuple(map(float, final.coef_[0])), intercept=float(final.intercept_[0]),
                       reference=tuple(map(float, reference)), window_threshold=min(threshold, 1.0),
                       record_fraction=cfg.record_fraction, window_s=window_s, step_s=step_s, hard=hard_rules,
                       fitted_on={**(fitted_on or {}), "windows": int(len(Z)), "records": int(noisy.size),
                                  "noisy_records": int(noisy.sum()), "target_frr": cfg.target_frr,
                                  "inner_folds": k, "C": cfg.C,
                                  "oof_sensitivity": float(curve["sensitivity"][pick]),
                                  "oof_false_rejection": float(curve["false_rejection"][pick])})
    info = {"curve": {k2: v.tolist() for k2, v in curve.items()}, "pick": pick}
    return gate, info


def record_flags(gate: QualityGate, sqis: np.ndarray, window_record: np.ndarray, n_records: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(flagged (R,) bool, rejected fraction (R,)) of records under a fitted gate."""
    d = gate.decide(sqis)
    frac = record_rejected_fraction(~d.ok, np.asarray(window_record, np.int64), n_records)
    return frac >= gate.record_fraction, frac
