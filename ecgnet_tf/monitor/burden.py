"""AF burden arithmetic on owned window segments (pure numpy). Times in seconds."""
from __future__ import annotations

import numpy as np


def label_per_window(n_windows: int, episodes: list[tuple[str, int, int]], background: str = "N") -> np.ndarray:
    """Episode label of every window (``background`` outside episodes); episodes as (label, first, last)."""
    out = np.full(n_windows, background, dtype=object)
    for label, a, b in episodes:
        out[a:b + 1] = label
    return out


def af_burden_pct(own_s: np.ndarray, analysable: np.ndarray, is_af: np.ndarray) -> float | None:
    """AF burden in % of analysable time: sum(own_s[af & analysable]) / sum(own_s[analysable]) * 100.

    own_s: owned duration (s) per window; analysable: window passed the quality gate; is_af: window
    belongs to an AF episode. None when nothing is analysable.
    """
    own_s, ok, af = (np.asarray(v) for v in (own_s, analysable, is_af))
    total = float(own_s[ok.astype(bool)].sum())
    if total <= 0:
        return None
    return 100.0 * float(own_s[ok.astype(bool) & af.astype(bool)].sum()) / total


def hourly_minutes(starts_s: np.ndarray, ends_s: np.ndarray, n_hours: int | None = None) -> np.ndarray:
    """Minutes of the intervals [starts_s, ends_s) falling in each hour (0 = first hour of the
    recording); intervals crossing an hour boundary are split. Length ``n_hours`` (default: enough)."""
    s, e = np.asarray(starts_s, float), np.asarray(ends_s, float)
    top = int(np.ceil(e.max() / 3600.0)) if e.size else 0
    n = max(n_hours or 0, top, 1 if n_hours is None and e.size else 0)
    out = np.zeros(n)
    for h in range(n):
        a, b = h * 3600.0, (h + 1) * 3600.0
        out[h] = np.clip(np.minimum(e, b) - np.maximum(s, a), 0, None).sum() / 60.0
    return out
