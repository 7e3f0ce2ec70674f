"""Block geometry and block-wise preprocessing of an unbounded signal (pure numpy).

The signal is processed in blocks of ``K`` model windows. Block b holds windows
k = bK .. (b+1)K - 1; window k spans model-rate samples [k*hop, k*hop + W). To preprocess block b
the monitor takes the input samples from ``in_start(b)`` to ``in_need(b)``: the block's span plus
``margin`` on both sides (clipped at the recording edges), preprocesses that chunk with the same
``preprocess_signal`` as training, and keeps only the block's windows.

Alignment: with a model/input rate ratio up/down (``rational_ratio``), chunk starts are multiples
of ``down`` input samples, so chunk output sample j is global model-rate sample
``start * up / down + j`` exactly and windows from different chunks sit on one grid. Chunk limits
depend only on b (and on the recording length at the end), never on how samples were pushed, so
streaming in any chunk sizes gives the same windows as one pass over a file.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import preprocess as pp
from ..tasks.inputs import ModelInputs, WindowLayout, segment_inputs


@dataclass(frozen=True)
class BlockGeometry:
    """Integer geometry; ``*_in`` are input samples, everything else model-rate samples."""

    up: int
    down: int
    window: int  # W
    hop: int
    block_windows: int  # K
    margin_in: int  # multiple of ``down``

    @classmethod
    def make(cls, fs_in: float, fs_model: float, window: int, hop: int, block_windows: int,
             margin_s: float) -> "BlockGeometry":
        up, down = pp.rational_ratio(fs_in, fs_model)
        margin = int(np.ceil(margin_s * fs_in / down)) * down
        return cls(up, down, window, hop, block_windows, margin)

    def windows_of(self, b: int) -> tuple[int, int]:
        """Window indices [k0, k1) of block b."""
        return b * self.block_windows, (b + 1) * self.block_windows

    def span(self, k0: int, k1: int) -> tuple[int, int]:
        """Model-rate samples [start, end) covered by windows k0 .. k1-1."""
        return k0 * self.hop, (k1 - 1) * self.hop + self.window

    def in_start(self, b: int) -> int:
        """First input sample of block b's chunk (a multiple of ``down``, >= 0)."""
        first_in = (self.windows_of(b)[0] * self.hop * self.down) // self.up
        return max(0, ((first_in - self.margin_in) // self.down) * self.down)

    def in_need(self, b: int) -> int:
        """Input samples that must exist before block b can be processed with its full right margin."""
        end_out = self.span(*self.windows_of(b))[1]
        return -(-end_out * self.down // self.up) + self.margin_in

    def out_len(self, n_in: int) -> int:
        """Model-rate samples produced from ``n_in`` input samples (``resample_signal`` length)."""
        return -(-n_in * self.up // self.down)

    def n_windows(self, n_in: int) -> int:
        """Full windows inside a recording of ``n_in`` input samples."""
        m = self.out_len(n_in)
        return 0 if m < self.window else (m - self.window) // self.hop + 1

    def out_offset(self, s0: int) -> int:
        """Global model-rate index of the first output sample of a chunk starting at input ``s0``."""
        if s0 % self.down:
            raise ValueError(f"chunk start {s0} is not a multiple of {self.down}")
        return s0 // self.down * self.up

    def own_bounds(self, k: int) -> tuple[int, int]:
        """Model-rate samples [a, b) owned by window k (first window from 0; see episodes.py)."""
        c = (self.window - self.hop) // 2
        a = 0 if k == 0 else k * self.hop + c
        return a, (k + 1) * self.hop + c


@dataclass
class Chunk:
    """A preprocessed chunk: x (m, C) float32 at the model rate starting at global sample ``o0``,
    and its R peaks (chunk-relative model-rate indices, detected over the whole chunk)."""

    x: np.ndarray
    o0: int
    rpeaks: np.ndarray


def preprocess_chunk(x_in: np.ndarray, s0: int, fs_in: float, cfg: pp.PreprocessConfig, geom: BlockGeometry,
                     rpeak_lead: int = 0) -> Chunk:
    """Preprocess input samples starting at input index ``s0`` and detect R peaks on ``rpeak_lead``."""
    x, fs = pp.preprocess_signal(x_in, fs_in, cfg)
    return Chunk(x, geom.out_offset(s0), pp.detect_rpeaks(x, fs, lead=rpeak_lead))


def cut_windows(chunk: Chunk, k0: int, k1: int, geom: BlockGeometry, spec: WindowLayout, fs: float) -> ModelInputs:
    """Model inputs of windows k0..k1-1 of a chunk (``tasks.segment_inputs``, the function training
    uses); ``starts`` are global model-rate samples."""
    a, b = (v - chunk.o0 for v in geom.span(k0, k1))
    if a < 0 or b > chunk.x.shape[0]:
        raise ValueError(f"windows {k0}..{k1 - 1} are not inside the chunk")
    inside = chunk.rpeaks[(chunk.rpeaks >= a) & (chunk.rpeaks < b)] - a
    m = segment_inputs(spec, chunk.x[a:b], fs, inside)
    if len(m) != k1 - k0:  # pragma: no cover - geometry invariant
        raise AssertionError(f"expected {k1 - k0} windows, got {len(m)}")
    m.starts = m.starts + chunk.o0 + a
    return m
