"""Zero-phase band-pass and notch filters, and a high-frequency power check.

All filters run along axis 0, so they accept ``(n_samples,)`` and ``(n_samples, n_leads)``
arrays, and are zero phase (forward-backward), so R-peak positions are not shifted.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

#: Upper band edges above this fraction of the sampling rate are clipped to it (Nyquist is 0.5).
MAX_EDGE_FRACTION = 0.45


def _as_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"expected a (n_samples,) or (n_samples, n_leads) array, got shape {x.shape}")
    return x.astype(np.float64, copy=False)


def _padlen(n: int, requested: int) -> int:
    """Pad length for sosfiltfilt that also works on short signals."""
    return int(max(0, min(requested, n - 1)))


def effective_band(fs: float, low_hz: float | None, high_hz: float | None) -> tuple[float | None, float | None]:
    """The (low, high) edges in Hz actually used at ``fs`` Hz: the high edge is clipped to
    ``MAX_EDGE_FRACTION * fs`` and dropped (None) when that is not above the low edge."""
    hi = None if high_hz is None else min(float(high_hz), MAX_EDGE_FRACTION * fs)
    lo = None if low_hz is None or low_hz <= 0 else float(low_hz)
    if hi is not None and lo is not None and hi <= lo:
        raise ValueError(f"band ({low_hz}, {high_hz}) Hz is empty at fs={fs} Hz")
    return lo, hi


def band_sos(fs: float, low_hz: float | None = 0.5, high_hz: float | None = 150.0,
             order: int = 4) -> np.ndarray | None:
    """Butterworth second-order sections for the effective band at ``fs`` Hz (see :func:`effective_band`).

    Band-pass when both edges apply, high- or low-pass when one does, None when neither does.
    """
    lo, hi = effective_band(fs, low_hz, high_hz)
    if lo is not None and hi is not None:
        return sps.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    if lo is not None:
        return sps.butter(order, lo, btype="highpass", fs=fs, output="sos")
    if hi is not None:
        return sps.butter(order, hi, btype="lowpass", fs=fs, output="sos")
    return None


def bandpass(x: np.ndarray, fs: float, low_hz: float | None = 0.5, high_hz: float | None = 150.0,
             order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass (sosfiltfilt) along axis 0.

    Args:
        x: signal, (n_samples,) or (n_samples, n_leads), any unit (mV typically).
        fs: sampling rate in Hz.
        low_hz: lower -3 dB edge of the single-pass design in Hz (None or 0: low-pass only).
        high_hz: upper edge in Hz, clipped to 0.45*fs for low-rate data (None: high-pass only).
        order: Butterworth order of one pass (the forward-backward gain is squared: -6 dB at the edges).

    Returns:
        float64 array of the same shape.
    """
    x = _as_float(x)
    lo, _ = effective_band(fs, low_hz, high_hz)
    sos = band_sos(fs, low_hz, high_hz, order)
    if sos is None:
        return x.copy()
    n = x.shape[0]
    # odd-extension padding of ~1/low_hz seconds keeps the edge transient short
    pad = int(round(fs / lo)) if lo is not None else 3 * (2 * len(sos) + 1)
    return sps.sosfiltfilt(sos, x, axis=0, padlen=_padlen(n, pad))


def highpass(x: np.ndarray, fs: float, cutoff_hz: float = 0.5, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth high-pass at ``cutoff_hz`` Hz along axis 0."""
    return bandpass(x, fs, low_hz=cutoff_hz, high_hz=None, order=order)


def notch(x: np.ndarray, fs: float, freq_hz: float = 50.0, quality: float = 30.0) -> np.ndarray:
    """Zero-phase IIR notch at ``freq_hz`` Hz (mains: 50 or 60) with quality factor ``quality``.

    The notch is skipped (a copy is returned) when ``freq_hz`` is not below the Nyquist rate.
    """
    x = _as_float(x)
    if not 0 < freq_hz < fs / 2:
        return x.copy()
    b, a = sps.iirnotch(freq_hz, quality, fs=fs)
    return sps.filtfilt(b, a, x, axis=0, padlen=_padlen(x.shape[0], int(round(fs / 2))))


def band_power(x: np.ndarray, fs: float, band_hz: tuple[float, float]) -> float:
    """Welch power of ``x`` (summed over leads) between ``band_hz`` (Hz, inclusive), in unit^2."""
    x = _as_float(x)
    nper = int(min(x.shape[0], max(16, round(2 * fs))))
    f, p = sps.welch(x, fs=fs, nperseg=nper, axis=0, detrend="constant")
    sel = (f >= band_hz[0]) & (f <= band_hz[1])
    if not np.any(sel):
        return 0.0
    df = f[1] - f[0]
    return float(np.sum(p[sel]) * df)


def hf_power_retained(raw: np.ndarray, filtered: np.ndarray, fs: float,
                      band_hz: tuple[float, float] = (50.0, 150.0)) -> float:
    """Fraction (0..~1) of the Welch power of ``raw`` in ``band_hz`` (Hz) that is left in ``filtered``.

    The band is clipped to the Nyquist rate. Returns NaN when ``raw`` has no power in the band.
    """
    hi = min(band_hz[1], fs / 2)
    band = (float(band_hz[0]), float(hi))
    p_raw = band_power(raw, fs, band)
    if p_raw <= 0:
        return float("nan")
    return band_power(filtered, fs, band) / p_raw
