"""Confidence routing of findings: auto-report, cardiologist review, or extended monitoring."""
from __future__ import annotations

from .config import RoutingConfig


def route(prob: float | None, cfg: RoutingConfig = RoutingConfig()) -> str:
    """Route a probability (0..1; None = unknown, e.g. only quality-rejected windows)."""
    if prob is None or prob != prob:  # None or NaN
        return "extended_monitoring"
    if prob >= cfg.auto_report:
        return "auto_report"
    if prob >= cfg.review:
        return "cardiologist_review"
    return "extended_monitoring"
