"""Windows of a signal and the gate's feature vector built from their signal-quality indices.

The gate looks at windows of ``window_s`` seconds every ``step_s`` seconds (10 s every 5 s, as the
rhythm monitor), one lead at its own sampling rate. :func:`sqi_table` gives the raw indices of
:data:`~ecgnet_tf.preprocess.sqi.SQI_NAMES` per window; :func:`gate_features` turns them into the
(monotone, roughly Gaussian) features the logistic gate is fitted on.

Two indices are deliberately not gate features: the 40-100 Hz share (``hfsqi``) and the amplitude.
Both depend on the recording device more than on the noise: CinC 2017's handheld recordings are
band-limited (median 40-100 Hz share 0.0005, and *lower* in its noisy records, whose noise is slow
motion) while MIT-BIH's are not (median 0.003, 90th percentile 0.012), so a gate fitted on CinC
would call much of MIT-BIH noisy. They act as hard rules instead (HF_NOISE, FLAT_LINE, SATURATION).
"""
from __future__ import annotations

import numpy as np

from ..preprocess.sqi import SQI_NAMES, SqiConfig, sqi_matrix, window_sqi

#: gate feature -> reason named when that feature pushes a window over the threshold
GATE_FEATURES: dict[str, str] = {
    "bsqi": "DETECTOR_DISAGREEMENT",
    "tsqi": "UNSTABLE_MORPHOLOGY",
    "log_kurtosis": "NON_ECG_DISTRIBUTION",
    "log_abs_skew": "NON_ECG_DISTRIBUTION",
    "psqi": "WEAK_QRS",
    "qrs_snr": "WEAK_QRS",
    "bassqi": "BASELINE_WANDER",
    "rate_deviation": "IMPLAUSIBLE_HR",
}
#: heart rate (1/min) the rate deviation is measured from
NOMINAL_RATE = 75.0


def window_starts(n: int, fs: float, window_s: float = 10.0, step_s: float = 5.0) -> np.ndarray:
    """Start samples of the windows over ``n`` samples; a signal shorter than one window is one window,
    and the last window is aligned to the end so no tail is left unexamined."""
    w, s = int(round(window_s * fs)), max(1, int(round(step_s * fs)))
    if n <= w:
        return np.zeros(1, np.int64)
    starts = np.arange(0, n - w + 1, s, dtype=np.int64)
    if starts[-1] + w < n:
        starts = np.r_[starts, n - w]
    return starts


def sqi_table(x: np.ndarray, fs: float, window_s: float = 10.0, step_s: float = 5.0,
              cfg: SqiConfig = SqiConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(start samples (m,), indices (m, len(SQI_NAMES)) float64) of one lead ``x`` (mV) at ``fs`` Hz."""
    x = np.asarray(x, np.float64)
    if x.ndim != 1:
        raise ValueError(f"sqi_table expects one lead (n,), got shape {x.shape}")
    starts = window_starts(x.size, fs, window_s, step_s)
    w = int(round(window_s * fs))
    rows = [window_sqi(x[s:s + w], fs, cfg) for s in starts]
    return starts, sqi_matrix(rows)


def gate_features(sqis: np.ndarray) -> np.ndarray:
    """(m, len(GATE_FEATURES)) features from (m, len(SQI_NAMES)) indices (order of :data:`GATE_FEATURES`)."""
    s = np.atleast_2d(np.asarray(sqis, np.float64))
    col = {k: s[:, i] for i, k in enumerate(SQI_NAMES)}
    feats = {
        "bsqi": col["bsqi"],
        "tsqi": col["tsqi"],
        "log_kurtosis": np.log(np.maximum(col["ksqi"], 0.0) + 1.0),
        "log_abs_skew": np.log1p(np.maximum(col["ssqi"], 0.0)),
        "psqi": col["psqi"],
        "qrs_snr": np.clip(col["qrs_snr_db"], -20.0, 60.0) / 20.0,
        "bassqi": col["bassqi"],
        "rate_deviation": np.abs(np.log(np.maximum(col["beats_per_min"], 10.0) / NOMINAL_RATE)),
    }
    return np.stack([feats[k] for k in GATE_FEATURES], axis=1)
