"""The signal-quality gate: windowed quality indices, a logistic gate fitted on labelled training
records (shipped as ``default_gate.json``), and streaming over long recordings in bounded memory."""
from .features import GATE_FEATURES, gate_features, sqi_table, window_starts
from .fit import GateFitConfig, fit_gate, record_flags, record_rejected_fraction, threshold_curve
from .gate import (DEFAULT_GATE_PATH, HARD_REASONS, REASONS, GateDecisions, HardRules, QualityGate, default_gate,
                   gate_digest, load_gate, save_gate)

__all__ = [
    "DEFAULT_GATE_PATH", "GATE_FEATURES", "HARD_REASONS", "REASONS", "GateDecisions", "GateFitConfig", "HardRules",
    "QualityGate", "default_gate", "fit_gate", "gate_digest", "gate_features", "load_gate", "record_flags",
    "record_rejected_fraction", "save_gate", "sqi_table", "threshold_curve", "window_starts",
]
