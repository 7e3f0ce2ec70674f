"""Signal preprocessing: baseline removal, filtering, R-peak detection, resampling, segmentation,
normalisation, quality gating, physiological prior maps, and the RR features of beats (``rr``, with the
recent rhythm's irregularity, ``rr_context``) and of
segment windows (``rhythm``), and beat-template features (``beat_template``)."""
from .beat_template import (TEMPLATE_FEATURE_NAMES, TemplateConfig, TemplateTracker, centre_segments,
                            template_features)
from .baseline import (estimate_baseline_kalman, kalman_lambda, remove_baseline_highpass,
                       remove_baseline_kalman, remove_baseline_median)
from .filters import band_power, band_sos, bandpass, effective_band, hf_power_retained, highpass, notch
from .normalize import ZScore
from .pipeline import (BASELINE_METHODS, CONVENTIONAL_BAND_HZ, PreprocessConfig, config_hash, detect_rpeaks,
                       preprocess_signal)
from .priors import J_POINT_S, PRIOR_KINDS, PRIOR_MODES, PRIOR_ZONES_S, prior_map, shuffle_priors
from .quality import REASONS, QualityConfig, QualityReport, assess_quality
from .rhythm import RHYTHM_FEATURE_NAMES, RhythmConfig, rhythm_features, rhythm_rows
from .resample import rational_ratio, resample_indices, resample_signal
from .rpeaks import PanTompkinsConfig, pan_tompkins, qrs_feature_signals, refine_rpeaks
from .rr import RR_FEATURE_NAMES, RRConfig, RRTracker, rr_features
from .rr_context import RR_CONTEXT_NAMES, RRContextConfig, RRContextTracker, rr_context
from .segment import Segments, beat_windows, fixed_segments

__all__ = [
    "BASELINE_METHODS", "CONVENTIONAL_BAND_HZ", "J_POINT_S", "PRIOR_KINDS", "PRIOR_ZONES_S", "REASONS",
    "PanTompkinsConfig", "PreprocessConfig", "QualityConfig", "QualityReport", "Segments", "ZScore",
    "assess_quality", "band_power", "band_sos", "bandpass", "beat_windows", "config_hash", "detect_rpeaks",
    "effective_band", "estimate_baseline_kalman", "fixed_segments", "hf_power_retained", "highpass",
    "kalman_lambda", "notch", "pan_tompkins", "prior_map", "qrs_feature_signals", "rational_ratio",
    "refine_rpeaks", "remove_baseline_highpass", "remove_baseline_kalman", "remove_baseline_median",
    "resample_indices", "resample_signal", "preprocess_signal",
    "RR_FEATURE_NAMES", "RRConfig", "RRTracker", "rr_features",
    "RR_CONTEXT_NAMES", "RRContextConfig", "RRContextTracker", "rr_context",
    "TEMPLATE_FEATURE_NAMES", "TemplateConfig", "TemplateTracker", "centre_segments", "template_features",
    "RHYTHM_FEATURE_NAMES", "RhythmConfig", "rhythm_features", "rhythm_rows", "PRIOR_MODES", "shuffle_priors",
]
