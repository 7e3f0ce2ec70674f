"""Causal smoothing of window probabilities before the monitor's decisions, and its validated settings.

A single 10-s window is a noisy witness of AF: an ectopic run or a noisy stretch can look irregular.
:func:`smoothed_decisions` decides window ``k`` from the mean class probabilities of the last
``smooth_windows`` quality-passed windows up to ``k`` (causal: no look-ahead, so the onset latency
grows by at most ``smooth_windows - 1`` hops), and calls it AF only when that mean probability of AF
reaches ``af_threshold`` (otherwise the most probable non-AF class); with ``af_threshold`` None the
most probable class of the mean wins (plain argmax). Episodes are then merged by the
monitor's gap / minimum-length rule (:mod:`.episodes`).

:class:`AFSmoothing` holds the four settings; :mod:`.smoothing_fit` chooses them on a run's
validation records (never on the MIT-BIH AF records, which are a test) and saves them in the run
folder (``RUN/af_smoothing.json``), where the monitor finds them.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import atomic

#: file in a run folder holding the validated :class:`AFSmoothing`
SMOOTHING_FILE = "af_smoothing.json"


@dataclass(frozen=True)
class AFSmoothing:
    """Settings of the monitor's AF decisions.

    smooth_windows: windows averaged (the current one and up to ``smooth_windows - 1`` before it).
    af_threshold: mean AF probability (0..1) from which a window is labelled AF; None: argmax of the mean.
    max_gap_windows / min_episode_windows: the episode merging rule (see :mod:`.episodes`).
    context_s: None: the window network's probabilities are smoothed; a number: those of the run's
        record model on the last ``context_s`` seconds of the stream (:mod:`.context`).
    """

    smooth_windows: int = 1
    af_threshold: float | None = None
    max_gap_windows: int = 1
    min_episode_windows: int = 1
    context_s: float | None = None

    def __post_init__(self) -> None:
        if self.smooth_windows < 1 or self.min_episode_windows < 1 or self.max_gap_windows < 0:
            raise ValueError("smooth_windows >= 1, min_episode_windows >= 1 and max_gap_windows >= 0 required")
        if self.af_threshold is not None and not 0.0 <= self.af_threshold <= 1.0:
            raise ValueError(f"af_threshold must be in 0..1, got {self.af_threshold}")
        if self.context_s is not None and not self.context_s > 0:
            raise ValueError(f"context_s must be positive, got {self.context_s}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AFSmoothing":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown AFSmoothing keys: {sorted(unknown)}")
        return cls(**d)


def save_smoothing(run_dir: Path, smoothing: AFSmoothing, evidence: dict) -> Path:
    """Write ``run_dir/af_smoothing.json``: the settings and how they were chosen."""
    path = Path(run_dir) / SMOOTHING_FILE
    atomic.write_json(path, {"smoothing": smoothing.to_dict(), **evidence})
    return path


def load_smoothing(run_dir: Path | None, network_only: bool = False) -> AFSmoothing | None:
    """The run's validated settings, or None when the run has none (or no run is given). With
    ``network_only``, the best smoothing of the network's own probabilities chosen on the same
    validation streams (the file's ``alternatives.network``) when the chosen decisions use a context
    model."""
    if run_dir is None:
        return None
    path = Path(run_dir) / SMOOTHING_FILE
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    if network_only and d["smoothing"].get("context_s") is not None:
        net = (d.get("alternatives") or {}).get("network")
        if net is None:
            raise ValueError(f"{path}: no network alternative; refit it (python -m ecgnet_tf.rhythm_study --stages monitor)")
        return AFSmoothing.from_dict(net["smoothing"])
    return AFSmoothing.from_dict(d["smoothing"])


def smoothed_decision(history: np.ndarray, af_index: int, smoothing: AFSmoothing) -> tuple[int, np.ndarray]:
    """Decision for the newest window from ``history`` (m, K): the probabilities of the last m
    quality-passed windows, newest last (only the last ``smooth_windows`` are used). Returns
    (class index, smoothed probabilities (K,))."""
    h = np.asarray(history, np.float64)
    if h.ndim != 2 or len(h) == 0:
        raise ValueError(f"history must be (m >= 1, K), got shape {h.shape}")
    p = h[-smoothing.smooth_windows:].mean(axis=0)
    if smoothing.af_threshold is None:
        return int(np.argmax(p)), p
    if p[af_index] >= smoothing.af_threshold:
        return af_index, p
    rest = p.copy()
    rest[af_index] = -np.inf
    return int(np.argmax(rest)), p


def smoothed_decisions(probs: np.ndarray, ok: np.ndarray, af_index: int, smoothing: AFSmoothing) -> np.ndarray:
    """Class index of each window of a stream ((n, K) probabilities, (n,) quality flags), as the
    monitor decides them one by one (:func:`smoothed_decision`, vectorised); -1 for quality-rejected
    windows (they neither decide nor enter the average)."""
    probs = np.asarray(probs, np.float64)
    ok = np.asarray(ok, bool)
    out = np.full(len(probs), -1, np.int64)
    kept = probs[ok]
    if len(kept) == 0:
        return out
    m = smoothing.smooth_windows
    c = np.cumsum(np.vstack([np.zeros((1, kept.shape[1])), kept]), axis=0)
    idx = np.arange(1, len(kept) + 1)
    lo = np.maximum(idx - m, 0)
    mean = (c[idx] - c[lo]) / (idx - lo)[:, None]
    if smoothing.af_threshold is None:
        out[ok] = np.argmax(mean, axis=1)
        return out
    rest = mean.copy()
    rest[:, af_index] = -np.inf
    dec = np.where(mean[:, af_index] >= smoothing.af_threshold, af_index, np.argmax(rest, axis=1))
    out[ok] = dec
    return out
