"""The preprocessing pipeline shared by training, evaluation and export.

Order (documented, fixed): baseline removal -> notch (optional) -> band-pass -> resample to fs_out.
Filtering happens at the native rate (so the band-pass upper edge is clipped to 0.45 * fs_in for
low-rate data such as PTB-XL at 100 Hz) and resampling last, with its own anti-aliasing filter.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from .baseline import remove_baseline_highpass, remove_baseline_kalman, remove_baseline_median
from .filters import bandpass, notch
from .resample import resample_signal
from .rpeaks import pan_tompkins

#: The conventional diagnostic band used for comparison with the wide 0.5-150 Hz default.
CONVENTIONAL_BAND_HZ: tuple[float, float] = (0.5, 40.0)
BASELINE_METHODS: tuple[str, ...] = ("kalman", "median", "highpass", "none")


@dataclass(frozen=True)
class PreprocessConfig:
    """Preprocessing settings (Hz for frequencies).

    fs_out: output sampling rate. baseline: "kalman" | "median" | "highpass" | "none".
    baseline_cutoff_hz: cut-off of the Kalman / high-pass baseline removal.
    band_hz: band-pass edges (upper edge clipped to 0.45 * fs for low-rate input); None: no band-pass.
    band_order: Butterworth order of one pass. notch_hz: mains frequency to notch (None: no notch).
    notch_quality: notch quality factor.
    """

    fs_out: float = 360.0
    baseline: str = "kalman"
    baseline_cutoff_hz: float = 0.8
    band_hz: tuple[float, float] | None = (0.5, 150.0)
    band_order: int = 4
    notch_hz: float | None = None
    notch_quality: float = 30.0

    def __post_init__(self) -> None:
        if self.baseline not in BASELINE_METHODS:
            raise ValueError(f"baseline must be one of {BASELINE_METHODS}, got {self.baseline!r}")
        if self.fs_out <= 0:
            raise ValueError("fs_out must be positive")

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        """The config saved as JSON (``dataclasses.asdict``; lists become the tuples they were)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_dict(self) -> dict:
        return asdict(self)


def config_hash(cfg: PreprocessConfig, length: int = 12) -> str:
    """Stable short hex sha256 of the config as sorted, compact JSON (tuples become lists)."""
    text = json.dumps(asdict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def preprocess_signal(signal: np.ndarray, fs: float, cfg: PreprocessConfig = PreprocessConfig()
                      ) -> tuple[np.ndarray, float]:
    """Baseline -> notch -> band-pass -> resample. Input (n,) or (n, C) in mV at ``fs`` Hz.

    Returns ``(x, fs_out)`` with x float32 of shape (m, C), m ~= n * fs_out / fs.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"expected (n_samples,) or (n_samples, n_leads), got shape {x.shape}")
    if cfg.baseline == "kalman":
        x = remove_baseline_kalman(x, fs, cutoff_hz=cfg.baseline_cutoff_hz)
    elif cfg.baseline == "median":
        x = remove_baseline_median(x, fs)
    elif cfg.baseline == "highpass":
        x = remove_baseline_highpass(x, fs, cutoff_hz=cfg.baseline_cutoff_hz)
    if cfg.notch_hz is not None:
        x = notch(x, fs, cfg.notch_hz, cfg.notch_quality)
    if cfg.band_hz is not None:
        x = bandpass(x, fs, cfg.band_hz[0], cfg.band_hz[1], order=cfg.band_order)
    x = resample_signal(x, fs, cfg.fs_out)
    return x.astype(np.float32), float(cfg.fs_out)


def detect_rpeaks(signal: np.ndarray, fs: float, lead: int = 0) -> np.ndarray:
    """R peaks (int64 sample indices) on one lead of an already preprocessed (n,) or (n, C) signal."""
    x = np.asarray(signal)
    x = x if x.ndim == 1 else x[:, lead]
    return pan_tompkins(x, fs)
