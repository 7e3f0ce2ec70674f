"""Configuration of the continuous monitor (dataclasses only)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..signal_quality import QualityGate
from .context import ContextModel
from .smoothing import AFSmoothing

#: Default mapping from CinC 2017 class letters to monitor labels ("N" is the background rhythm).
DEFAULT_LABELS: dict[str, str] = {"N": "N", "A": "AF", "O": "other", "~": "noise"}
ROUTES: tuple[str, ...] = ("auto_report", "cardiologist_review", "extended_monitoring")


@dataclass(frozen=True)
class RoutingConfig:
    """Confidence routing (the paper's workflow). Probabilities in 0..1.

    prob >= auto_report: "auto_report"; review <= prob < auto_report: "cardiologist_review";
    prob < review (or unknown): "extended_monitoring". max_rejected_fraction: overall routing is
    "extended_monitoring" when more than this fraction of windows failed the quality gate.
    """

    auto_report: float = 0.95
    review: float = 0.85
    max_rejected_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.review <= self.auto_report <= 1:
            raise ValueError(f"routing thresholds need 0 <= review ({self.review}) <= auto_report "
                             f"({self.auto_report}) <= 1")


@dataclass(frozen=True)
class MonitorConfig:
    """Settings of :class:`ecgnet_tf.monitor.Monitor`.

    fs: sampling rate of the pushed samples (Hz).
    margin_s: context (s) preprocessed on each side of a block and then discarded. The
        preprocessing is zero-phase (Kalman/RTS baseline smoother with 3*fs/0.8 Hz = 3.75 s
        reflection padding, 0.5 Hz band-pass, polyphase resampling) and Pan-Tompkins learns its
        thresholds over its first 8 s, so a margin of 10 s makes block-wise preprocessing equal to
        whole-record preprocessing to float32 precision inside the block (tested).
    block_windows: windows per processing block (24 windows of 10 s at 50 % overlap = 120 s of new
        signal per block); memory is bounded by (block + 2 margins) of signal.
    max_gap_windows: at most this many windows of other labels between two runs of the same label
        are absorbed into one episode. min_episode_windows: shorter runs are dropped (background).
    rpeak_lead: lead (column of the pushed samples) used for R-peak detection.
    labels: model class letter -> monitor label; classes not listed keep their letter.
    background: label that is not reported as an episode. af_label: label counted as AF burden.
    noise_label: label given to windows rejected by the quality gate.
    n_examples: example strips kept for the HTML report (at most one per label, best probability).
    smoothing: validated AF decision settings (:class:`~ecgnet_tf.monitor.smoothing.AFSmoothing`, e.g.
        a run's ``af_smoothing.json``): causal averaging of window probabilities, an AF threshold,
        and the gap / minimum-length rule, which then replaces ``max_gap_windows`` and
        ``min_episode_windows``. None: each window decided by its own argmax.
    context: a record model applied to the last ``context.context_s`` seconds of the stream
        (:class:`~ecgnet_tf.monitor.context.ContextModel`); when set, its probabilities, not the
        window network's, are what each quality-passed window is decided (and smoothed) on.
    """

    fs: float
    margin_s: float = 10.0
    block_windows: int = 24
    max_gap_windows: int = 1
    min_episode_windows: int = 1
    rpeak_lead: int = 0
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    background: str = "N"
    af_label: str = "AF"
    noise_label: str = "noise"
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    n_examples: int = 4
    smoothing: AFSmoothing | None = None
    use_quality_gate: bool = True
    quality_gate: QualityGate | None = None
    context: ContextModel | None = None

    @property
    def gap_windows(self) -> int:
        """The episode rule's gap in force (the smoothing's when set)."""
        return self.smoothing.max_gap_windows if self.smoothing else self.max_gap_windows

    @property
    def min_windows(self) -> int:
        """The episode rule's minimum length in force (the smoothing's when set)."""
        return self.smoothing.min_episode_windows if self.smoothing else self.min_episode_windows

    def __post_init__(self) -> None:
        if self.fs <= 0:
            raise ValueError(f"fs must be positive, got {self.fs}")
        if self.block_windows < 1 or self.max_gap_windows < 0 or self.min_episode_windows < 1:
            raise ValueError("block_windows >= 1, max_gap_windows >= 0 and min_episode_windows >= 1 required")
        if self.margin_s < 0:
            raise ValueError("margin_s must be >= 0")
