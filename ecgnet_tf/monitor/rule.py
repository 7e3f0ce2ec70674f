"""A model-free baseline classifier: AF when the R-R intervals of a window are irregular.

It reads R-peak positions back from the ``"af"`` prior map (each zone starts 0.100 s after an R
peak), so it fits the :class:`WindowClassifier` interface and needs no trained model. Used by the
tests (episode logic must not depend on a trained model's accuracy) and as a sanity baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import preprocess as pp
from ..runs import ModelSpec


def rr_irregularity(rpeaks: np.ndarray, fs: float) -> float:
    """Median |successive RR difference| / median RR (dimensionless); NaN with fewer than 4 beats."""
    r = np.asarray(rpeaks, dtype=np.float64)
    if r.size < 4:
        return float("nan")
    rr = np.diff(r) / fs
    return float(np.median(np.abs(np.diff(rr))) / np.median(rr))


def rpeaks_from_prior(prior: np.ndarray, fs: float, offset_s: float = 0.100) -> np.ndarray:
    """R-peak sample indices recovered from an ``"af"`` prior map (rising edges minus ``offset_s``)."""
    on = np.asarray(prior) > 0.5
    edges = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    return edges - int(round(offset_s * fs))


@dataclass
class RRRuleClassifier:
    """probs over ``spec.classes``: P(AF) = ``p_high`` when irregularity > ``threshold`` else
    ``1 - p_high`` (the rest goes to "N"; other classes get 0)."""

    spec: ModelSpec
    threshold: float = 0.12
    p_high: float = 0.97
    af_class: str = "A"
    normal_class: str = "N"

    def predict(self, ecg: np.ndarray, prior: np.ndarray) -> np.ndarray:
        out = np.zeros((len(ecg), len(self.spec.classes)))
        ia, inn = self.spec.classes.index(self.af_class), self.spec.classes.index(self.normal_class)
        for i, p in enumerate(prior):
            irr = rr_irregularity(rpeaks_from_prior(p, self.spec.fs), self.spec.fs)
            pa = self.p_high if irr > self.threshold else 1 - self.p_high
            out[i, ia], out[i, inn] = pa, 1 - pa
        return out


def rule_spec(n_leads: int = 1, preprocess: pp.PreprocessConfig = pp.PreprocessConfig()) -> ModelSpec:
    """A cinc2017-shaped spec named "rr-rule" (N/A/O/~, 10-s windows, 50 % overlap, "af" prior,
    identity z-score)."""
    return ModelSpec("rr-rule", ("N", "A", "O", "~"), 10.0, 0.5, "af", preprocess,
                     pp.ZScore(np.zeros(n_leads), np.ones(n_leads)))
