"""Physiological prior maps: the single source of the attention prior used by training, export and
the phone port.

A prior map is a float32 array of shape (n_samples,) with values in [0, 1] that marks where the
diagnostic information of a task is expected, relative to each R peak (times in seconds):

* ``"mi"``: the QRS complex, R - 0.050 .. R + 0.050, plus the ST-T zone 0.060 .. 0.120 s after the
  J point, where the J point is taken as R + 0.040 s, i.e. R + 0.100 .. R + 0.160 (the gap 0.050 ..
  0.100 after R is left at 0).
* ``"af"``: 0.100 .. 0.300 s after each R peak.
* ``"beat"``: the ``"mi"`` shape, for 2.5 s beat windows (pass ``rpeaks=[W // 2]``, or None, which
  means the window centre).
* ``"none"``: all ones.

Zones are 1 inside, 0 outside; the edges are softened by convolving with a normalised Hann window
of ``taper_s`` seconds (default 0.020 s; 0 gives hard edges), so each edge ramps over ~``taper_s``
centred on the nominal boundary. Zones of neighbouring beats are merged (union), so overlaps stay <= 1.
"""
from __future__ import annotations

import numpy as np

J_POINT_S = 0.040
"""Assumed J point offset after the R peak (s)."""

PRIOR_ZONES_S: dict[str, tuple[tuple[float, float], ...]] = {
    "mi": ((-0.050, 0.050), (J_POINT_S + 0.060, J_POINT_S + 0.120)),
    "af": ((0.100, 0.300),),
    "beat": ((-0.050, 0.050), (J_POINT_S + 0.060, J_POINT_S + 0.120)),
}
PRIOR_KINDS: tuple[str, ...] = ("mi", "af", "beat", "none")


def prior_map(rpeaks: np.ndarray | None, n_samples: int, fs: float, kind: str, taper_s: float = 0.020) -> np.ndarray:
    """Prior map (n_samples,) float32 in [0, 1] for R peaks ``rpeaks`` (sample indices) at ``fs`` Hz."""
    if kind not in PRIOR_KINDS:
        raise ValueError(f"unknown prior kind {kind!r}; expected one of {PRIOR_KINDS}")
    n = int(n_samples)
    if kind == "none":
        return np.ones(n, dtype=np.float32)
    if rpeaks is None:
        if kind != "beat":
            raise ValueError(f"prior kind {kind!r} needs R peaks")
        rpeaks = np.array([n // 2])
    r = np.asarray(rpeaks, dtype=np.int64).ravel()
    diff = np.zeros(n + 1, dtype=np.int64)
    for a_s, b_s in PRIOR_ZONES_S[kind]:
        a = np.clip(r + int(round(a_s * fs)), 0, n)
        b = np.clip(r + int(round(b_s * fs)) + 1, 0, n)  # inclusive end
        ok = b > a
        np.add.at(diff, a[ok], 1)
        np.add.at(diff, b[ok], -1)
    mask = (np.cumsum(diff[:n]) > 0).astype(np.float64)
    k = int(round(taper_s * fs))
    if k >= 3:
        win = np.hanning(k + 2)[1:-1]
        mask = np.convolve(mask, win / win.sum(), mode="same")
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


#: how prior maps reach the model: "aligned" (each window's own map) or "shuffled" (an ablation
#: control: every window gets another window's map, see :func:`shuffle_priors`)
PRIOR_MODES: tuple[str, ...] = ("aligned", "shuffled")


def shuffle_priors(prior: np.ndarray, seed: int = 0) -> np.ndarray:
    """Prior maps (n, ...) reassigned between windows: a seeded cyclic permutation, so every window
    (when n > 1) gets the map of another window, i.e. zones that do not line up with its own beats.
    The ablation control of the guided attention ("prior-shuffled"); the maps themselves are unchanged."""
    prior = np.asarray(prior)
    n = len(prior)
    if n < 2:
        return prior.copy()
    order = np.random.default_rng(seed).permutation(n)
    out = np.empty_like(prior)
    out[order] = prior[np.roll(order, -1)]
    return out
