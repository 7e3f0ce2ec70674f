"""Explain windows of a trained model: predictions, CAM, attention maps, lead attribution, zones."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attention import attention_maps
from .cam import CamConfig, CamExplainer, gradient_x_input
from .resample import normalize01, resample_to_length
from ..tasks import RecordWindows
from .zones import ZoneConfig, zone_labels


@dataclass(frozen=True)
class ExplainConfig:
    """cam: CAM settings. target: class index to explain (None: the predicted class).
    lead_attribution: compute gradient x input per lead. top_fraction: overlap-metric region size."""

    cam: CamConfig = CamConfig()
    target: int | None = None
    lead_attribution: bool = True
    top_fraction: float = 0.10


@dataclass
class Explanation:
    """Everything explained for n windows of one record (maps resampled to the input length T).

    probs (n, K); target (n,) explained class; cam_raw (n, T) >= 0 un-normalised; cam (n, T) 0..1;
    attention: name -> (n, T) (guided / spatial maps keep their 0..1 values, MHSA is min-max
    scaled to 0..1 per window); gx (n, T, C) gradient x input or None; zones (n, T) zone labels.
    """

    windows: RecordWindows
    probs: np.ndarray
    target: np.ndarray
    cam_raw: np.ndarray
    cam: np.ndarray
    attention: dict[str, np.ndarray]
    gx: np.ndarray | None
    zones: np.ndarray


def _predict(model, ecg, prior, batch_size):
    from .cam import _model_inputs

    out = [np.asarray(model(_model_inputs(model, ecg[a:a + batch_size], prior[a:a + batch_size]), training=False))
           for a in range(0, len(ecg), batch_size)]
    return np.concatenate(out, axis=0).astype(np.float64)


def explain_windows(model, explainer: CamExplainer, zscore, windows: RecordWindows, prior_kind: str,
                    cfg: ExplainConfig = ExplainConfig()) -> Explanation:
    """Explain ``windows`` (not z-scored; z-scored here with the run's ``zscore``)."""
    ecg = zscore.transform(windows.x).astype(np.float32)
    t = ecg.shape[1]
    probs = _predict(model, ecg, windows.prior, cfg.cam.batch_size)
    target = np.full(len(ecg), cfg.target, np.int64) if cfg.target is not None else probs.argmax(axis=1)
    cam_raw = resample_to_length(explainer(ecg, windows.prior, target), t)
    att = {}
    for name, v in attention_maps(model, ecg, windows.prior, cfg.cam.batch_size).items():
        r = resample_to_length(v, t)
        att[name] = normalize01(r) if name == "mhsa" else np.clip(r, 0.0, 1.0)
    gx = None
    if cfg.lead_attribution and explainer.linear_model is not None:
        gx = gradient_x_input(explainer.linear_model, ecg, windows.prior, target, cfg.cam.batch_size)
    zcfg = ZoneConfig.for_prior_kind(prior_kind)
    zones = np.stack([zone_labels(r, t, windows.fs, zcfg) for r in windows.rpeaks]) if len(windows) else \
        np.zeros((0, t), np.int8)
    return Explanation(windows, probs, target, cam_raw, normalize01(cam_raw), att, gx, zones)
