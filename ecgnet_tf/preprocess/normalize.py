"""Per-lead z-score normalisation fitted on the training partition only and stored with the model."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ZScore:
    """Per-lead mean and standard deviation (signal units, e.g. mV), shape (C,)."""

    mean: np.ndarray
    std: np.ndarray
    eps: float = 1e-6

    @classmethod
    def fit(cls, x: np.ndarray, partition: str, eps: float = 1e-6) -> "ZScore":
        """Fit on ``x`` = (n, W, C) windows or (n, C) samples.

        ``partition`` must be ``"train"``: fitting on validation or test data leaks information,
        so anything else raises ValueError.
        """
        if partition != "train":
            raise ValueError(f"ZScore may only be fitted on the 'train' partition, got {partition!r}")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 3:
            flat = x.reshape(-1, x.shape[-1])
        elif x.ndim == 2:
            flat = x
        else:
            raise ValueError(f"expected (n, W, C) or (n, C), got shape {x.shape}")
        if flat.shape[0] == 0:
            raise ValueError("cannot fit ZScore on an empty array")
        return cls(mean=flat.mean(axis=0), std=flat.std(axis=0), eps=eps)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(x - mean) / max(std, eps) along the last axis (leads); returns float32."""
        x = np.asarray(x, dtype=np.float32)
        if x.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"expected {self.mean.shape[0]} leads on the last axis, got shape {x.shape}")
        std = np.maximum(self.std, self.eps)
        return ((x - self.mean.astype(np.float32)) / std.astype(np.float32)).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-serialisable dict (lists of floats)."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std], "eps": float(self.eps)}

    @classmethod
    def from_dict(cls, d: dict) -> "ZScore":
        """Inverse of :meth:`to_dict`."""
        return cls(mean=np.asarray(d["mean"], dtype=np.float64), std=np.asarray(d["std"], dtype=np.float64),
                   eps=float(d.get("eps", 1e-6)))
