"""Resampling of feature-resolution maps to the input length, and 0..1 normalisation (pure numpy).

A map computed on a feature sequence of length ``T'`` (e.g. a Grad-CAM at the ResU block output,
``T' = T / 10`` for the edge model) is brought to the input length ``T`` by *cell-centred* linear
interpolation: feature step ``j`` covers input samples ``[j f, (j + 1) f)`` with ``f = T / T'`` and
is placed at its centre ``(j + 0.5) f - 0.5`` (input-sample units); samples outside the first /
last centre take the edge value. This matches how the 'same'-padded strided convolutions and
poolings of the network tile the input. (tf-keras-vis' own ``expand_cam`` uses
``scipy.ndimage.zoom(order=1)``, which accepts 1-D maps but aligns the *end points* of the two
grids; that shifts the map by up to half a feature step, ~14 ms at the block resolution of the
edge model, so the project resamples itself.)
"""
from __future__ import annotations

import numpy as np


def feature_centres(n_features: int, n_samples: int) -> np.ndarray:
    """Input-sample position (float, samples) of the centre of each of ``n_features`` steps."""
    if n_features < 1 or n_samples < 1:
        raise ValueError("n_features and n_samples must be positive")
    f = n_samples / n_features
    return (np.arange(n_features, dtype=np.float64) + 0.5) * f - 0.5


def resample_to_length(values: np.ndarray, n_samples: int) -> np.ndarray:
    """Resample maps along their last axis to ``n_samples`` (cell-centred linear interpolation).

    ``values``: (..., T') array. Returns float64 (..., n_samples). A map already of length
    ``n_samples`` is returned unchanged (as float64).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0:
        raise ValueError("expected at least one axis (time last)")
    n_feat = v.shape[-1]
    if n_feat == n_samples:
        return v.copy()
    xp = feature_centres(n_feat, n_samples)
    t = np.arange(n_samples, dtype=np.float64)
    flat = v.reshape(-1, n_feat)
    out = np.stack([np.interp(t, xp, row) for row in flat]) if flat.shape[0] else np.zeros((0, n_samples))
    return out.reshape(v.shape[:-1] + (n_samples,))


def normalize01(values: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Min-max normalise each map (last axis) to 0..1; a constant map becomes all zeros."""
    v = np.asarray(values, dtype=np.float64)
    lo = v.min(axis=-1, keepdims=True)
    span = v.max(axis=-1, keepdims=True) - lo
    return np.where(span > eps, (v - lo) / np.maximum(span, eps), 0.0)
