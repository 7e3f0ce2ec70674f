"""Architecture configurations: the ablation ladder, the edge product default and the paper model.

Every architecture switch lives in the frozen :class:`ModelConfig` dataclass, so a trained model can
be rebuilt from the dict stored next to its weights (``ModelConfig.from_dict(cfg.to_dict())``).

Temporal resolution (input ``T`` samples):

* ``stem_stride`` and ``pre_pool`` downsample before the multi-scale block; the block (and the
  guided attention, which multiplies the block output by the down-sampled prior) runs at
  ``T / (stem_stride * prod(pre_pool))``.
* ``pool_before_attention`` is the *total* downsampling factor between the input and the
  positional encoding / multi-head self-attention / BiLSTM. The part not done before the block is
  done after it by strided pooling stages (one stage per prime factor, e.g. 4 -> 2, 2).

Ladder (cumulative): ``baseline`` (4 standard convolutions + 2 BiLSTM) -> ``+multiscale`` (ResU
multi-scale block with standard convolutions) -> ``+channel_att`` (squeeze-and-excitation) ->
``+spatial_att`` (spatial attention over time and positional encoding + multi-head
self-attention: the temporal attention step) -> ``+guided`` (prior-guided spatial attention) ->
``+separable`` (depthwise-separable branches; same block structure as ``edge``). All ladder steps
use the edge resolution and widths, so neighbouring steps differ only by the named switch.
``edge_standard`` is ``edge`` with standard convolutions (identical to ``+guided``), the twin used
for the separable-parameter-reduction target.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..preprocess.rhythm import RHYTHM_FEATURE_NAMES
from ..preprocess.beat_template import TEMPLATE_FEATURE_NAMES

LADDER: tuple[str, ...] = (
    "baseline",
    "+multiscale",
    "+channel_att",
    "+spatial_att",
    "+guided",
    "+separable",
)

BLOCK_TYPES = ("conv", "multiscale")
POOL_TYPES = ("max", "avg")
POSITIONAL_TYPES = ("sinusoidal", "learned", "none")


@dataclass(frozen=True)
class ModelConfig:
    """All switches and sizes of the network (see the module docstring for the resolution rules)."""

    name: str = "edge"
    # stem
    stem_filters: int = 64
    stem_kernel: int = 7
    stem_stride: int = 2
    pre_pool: tuple[int, ...] = (5,)
    # backbone: "conv" = plain CNN stack (baseline), "multiscale" = ResU block of multi-scale blocks
    block: str = "multiscale"
    conv_filters: tuple[int, ...] = (64, 128, 128)
    conv_kernel: int = 7
    branch_filters: int = 64
    branch_kernels: tuple[int, ...] = (3, 7, 15)
    resu_depth: int = 2
    separable: bool = True
    # attention
    channel_attention: bool = True
    se_reduction: int = 16
    spatial_attention: bool = True
    spatial_kernel: int = 7
    guided_attention: bool = True
    guided_kernel: int = 7
    guided_init_alpha: float = 1.0
    mhsa: bool = True
    mhsa_heads: int = 4
    positional: str = "sinusoidal"
    # temporal downsampling before MHSA / BiLSTM (total factor from the input)
    pool_before_attention: int = 60
    pool_type: str = "max"
    # recurrent head
    lstm_units: int = 64
    lstm_layers: int = 2
    dense_units: tuple[int, ...] = (128, 64)
    dropout: float = 0.5
    # rhythm branch (input "rr"), 0 = none: the beat's RR-interval features (beat tasks, preprocess.rr_features)
    # or the segment window's rhythm features (segment tasks, preprocess.rhythm_features)
    rr_features: int = 0
    rr_units: tuple[int, ...] = (32, 16)
    # beat-template branch input (input "morph"), 0 = none: the beat's shape against the patient's recent
    # beats (beat tasks, preprocess.template_features); joins the rhythm branch's input
    morph_features: int = 0
    # standardise every window over time (its own mean and scale) before the stem
    window_norm: bool = False

    def __post_init__(self) -> None:
        for key in ("pre_pool", "conv_filters", "branch_kernels", "dense_units", "rr_units"):
            value = getattr(self, key)
            if not isinstance(value, tuple):
                object.__setattr__(self, key, tuple(int(v) for v in value))
        if self.block not in BLOCK_TYPES:
            raise ValueError(f"block must be one of {BLOCK_TYPES}, got {self.block!r}")
        if self.pool_type not in POOL_TYPES:
            raise ValueError(f"pool_type must be one of {POOL_TYPES}, got {self.pool_type!r}")
        if self.positional not in POSITIONAL_TYPES:
            raise ValueError(f"positional must be one of {POSITIONAL_TYPES}, got {self.positional!r}")
        if self.stem_stride < 1 or any(p < 1 for p in self.pre_pool):
            raise ValueError("stem_stride and pre_pool factors must be >= 1")
        if self.pool_before_attention % self.pre_block_factor:
            raise ValueError(
                f"pool_before_attention={self.pool_before_attention} must be a multiple of "
                f"stem_stride * prod(pre_pool) = {self.pre_block_factor}"
            )
        if not 0.0 <= self.guided_init_alpha <= 1.0:
            raise ValueError("guided_init_alpha must lie in [0, 1]")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must lie in [0, 1)")
        if self.lstm_layers < 0 or self.resu_depth < 0:
            raise ValueError("lstm_layers and resu_depth must be >= 0")
        if self.rr_features < 0:
            raise ValueError("rr_features must be >= 0 (0: no RR input)")
        if self.morph_features < 0:
            raise ValueError("morph_features must be >= 0 (0: no beat-template input)")
        if self.morph_features and not self.rr_features:
            raise ValueError("morph_features needs rr_features: the template features join the rhythm branch")

    # ------------------------------------------------------------------ derived values
    @property
    def pre_block_factor(self) -> int:
        """Downsampling factor between the input and the multi-scale block."""
        return self.stem_stride * math.prod(self.pre_pool)

    @property
    def post_block_pools(self) -> tuple[int, ...]:
        """Strided pooling stages after the block: prime factors of the remaining factor."""
        return _prime_factors(self.pool_before_attention // self.pre_block_factor)

    @property
    def block_channels(self) -> int:
        """Channels leaving the backbone block."""
        if self.block == "multiscale":
            return self.branch_filters * len(self.branch_kernels)
        return self.conv_filters[-1] if self.conv_filters else self.stem_filters

    def feature_length(self, n_samples: int, stage: str = "attention") -> int:
        """Time steps at ``stage`` ("block" or "attention") for an input of ``n_samples``."""
        if stage not in ("block", "attention"):
            raise ValueError("stage must be 'block' or 'attention'")
        factor = self.pre_block_factor if stage == "block" else self.pool_before_attention
        return math.ceil(n_samples / factor)  # 'same' padding everywhere: ceil at every stage

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {sorted(unknown)}")
        return cls(**data)

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _prime_factors(n: int) -> tuple[int, ...]:
    out: list[int] = []
    p = 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return tuple(out)


_EDGE = ModelConfig(name="edge")

_ALL_OFF = dict(
    channel_attention=False,
    spatial_attention=False,
    guided_attention=False,
    mhsa=False,
    positional="none",
    separable=False,
)

_CONFIGS: dict[str, ModelConfig] = {
    "baseline": _EDGE.replace(name="baseline", block="conv", **_ALL_OFF),
    "+multiscale": _EDGE.replace(name="+multiscale", **_ALL_OFF),
    "+channel_att": _EDGE.replace(name="+channel_att", **{**_ALL_OFF, "channel_attention": True}),
    "+spatial_att": _EDGE.replace(
        name="+spatial_att",
        **{**_ALL_OFF, "channel_attention": True, "spatial_attention": True, "mhsa": True,
           "positional": "sinusoidal"},
    ),
    "+guided": _EDGE.replace(name="+guided", separable=False),
    "+separable": _EDGE.replace(name="+separable"),
    "edge": _EDGE,
    "edge_standard": _EDGE.replace(name="edge_standard", separable=False),
    # As close to the paper as fits a CPU: stem and multi-scale block at full 3600-sample
    # resolution, but an 8x pooling before MHSA / BiLSTM (paper: none, i.e. O(T^2) = 3600^2).
    "paper": _EDGE.replace(name="paper", stem_stride=1, pre_pool=(), pool_before_attention=8),
    # edge without the guided attention (issue: PTB-XL MI, guided-attention ablation)
    "edge-noguided": _EDGE.replace(name="edge-noguided", guided_attention=False),
    # edge + a rhythm branch on the beat's RR-interval features (beat tasks; issue: inter-patient SVEB)
    "edge-rr": _EDGE.replace(name="edge-rr", rr_features=8),
    # edge-rr + the beat-template features (patient-relative morphology; issue: inter-patient beats)
    "edge-rrt": _EDGE.replace(name="edge-rrt", rr_features=8, morph_features=len(TEMPLATE_FEATURE_NAMES)),
    # edge-rrt + the recent rhythm's irregularity (rr columns 9-10, preprocess.rr_context): prematurity read
    # against how irregular the patient's last beats were (issue: inter-patient SVEB)
    "edge-rrtc": _EDGE.replace(name="edge-rrtc", rr_features=10, morph_features=len(TEMPLATE_FEATURE_NAMES)),
    # edge-rr on per-window amplitude-normalised input (issue: inter-patient SVEB, normalisation trial)
    "edge-rr-wn": _EDGE.replace(name="edge-rr-wn", rr_features=8, window_norm=True),
    # edge + a rhythm branch on each segment window's rhythm features (segment tasks; issue: AF, CinC 2017)
    "edge-rhythm": _EDGE.replace(name="edge-rhythm", rr_features=len(RHYTHM_FEATURE_NAMES)),
}

CONFIG_NAMES: tuple[str, ...] = tuple(_CONFIGS)


def get_model_config(name: str) -> ModelConfig:
    """The named configuration; ``ValueError`` listing the valid names otherwise."""
    try:
        return _CONFIGS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown model config {name!r}; valid names: {', '.join(CONFIG_NAMES)}"
        ) from None
