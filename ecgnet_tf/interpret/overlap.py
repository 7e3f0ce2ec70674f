"""The top-attention overlap metric (the paper's "73% overlap"), defined precisely (pure numpy).

For one window with heatmap ``h`` (T,) and a boolean reference zone mask ``z`` (T,):

1. *Top-attention region*: the samples whose value is at least the ``1 - top_fraction`` quantile
   of ``h`` (default the top 10 %) form a mask; the region is the contiguous run of that mask
   containing ``argmax(h)`` (the first maximum).
2. *Hit*: the region intersects ``z`` (shares at least one sample).

The overlap of a set of windows is the fraction of hits. The reference zone is task-specific
(see :func:`ecgnet_tf.interpret.report.reference_zone`): the QRS zone (R +/- 50 ms) around the
MIT-BIH reference beat annotations for mitdb-aami, the ST-T zone around detected R peaks for the
PTB-XL tasks, the AF prior zone for CinC 2017. :func:`chance_hit` gives the hit probability of a
region of the same length placed uniformly at random in the window, the level a heatmap that
ignores the signal would reach.
"""
from __future__ import annotations

import numpy as np


def top_region(heat: np.ndarray, top_fraction: float = 0.10) -> tuple[int, int]:
    """``(start, stop)`` sample indices (stop exclusive) of the top-attention region of ``heat``."""
    h = np.asarray(heat, dtype=np.float64).ravel()
    if h.size == 0:
        raise ValueError("empty heatmap")
    if not 0 < top_fraction <= 1:
        raise ValueError("top_fraction must be in (0, 1]")
    peak = int(np.argmax(h))
    top = h >= np.quantile(h, 1.0 - top_fraction)
    top[peak] = True
    start = peak
    while start > 0 and top[start - 1]:
        start -= 1
    stop = peak + 1
    while stop < h.size and top[stop]:
        stop += 1
    return start, stop


def region_hits(region: tuple[int, int], zone: np.ndarray) -> bool:
    """Whether ``region`` (start, stop) shares at least one sample with the boolean ``zone``."""
    start, stop = region
    return bool(np.any(np.asarray(zone, dtype=bool)[start:stop]))


def chance_hit(length: int, zone: np.ndarray) -> float:
    """Probability that a span of ``length`` samples, placed uniformly inside the window, hits ``zone``."""
    z = np.asarray(zone, dtype=bool).ravel()
    n = z.size
    length = int(min(max(length, 1), n))
    n_pos = n - length + 1
    csum = np.concatenate([[0], np.cumsum(z)])
    starts = np.arange(n_pos)
    return float(np.mean(csum[starts + length] - csum[starts] > 0))
