"""RR-interval features per beat: the rhythm input of the beat classifier.

A supraventricular beat is mostly recognisable as "early *for this patient*", so besides the raw
intervals every beat gets ratios to the patient's own recent and long-run rhythm. All times are
seconds; beat positions are sample indices at ``fs`` Hz.

Definitions, for beats ``b[0] < b[1] < ... < b[n-1]`` and intervals ``r[k] = (b[k] - b[k-1]) / fs``
(``k = 1 .. n-1``; ``r[k]`` is the pre-RR of beat k and the post-RR of beat k-1):

* **pre-RR** of beat i: ``r[i]``; **post-RR**: ``r[i+1]``.
* **Baseline intervals** of beat i: the *plausible* intervals among ``r[1] .. r[i-1]``, i.e. those
  that ended before beat i's own pre-RR started (the beat being judged never dilutes its own
  reference). **local** mean = mean of the last ``local_beats`` of them; **running** mean = mean of
  all of them (causal: the record's mean so far, never the whole record's mean).
* Ratios: pre/local, post/pre, pre/running, local/running.

**Look-ahead.** Features of beat i use beats ``<= i+1`` only (exactly one beat of look-ahead, for the
post-RR and, during warm-up only, the first plausible interval). Changing or removing beats after
``i+1`` never changes them. :class:`RRTracker` computes the same numbers beat by beat, with the
same floating-point operations, so a whole-record training pipeline and a streaming monitor produce
bit-identical features.

**Clipping rule** (missed detections, double detections, pauses, dropouts). An interval is
*plausible* when ``min_rr_s <= r <= max_rr_s`` (default 0.15 .. 3.0 s). Implausible intervals are
reported as pre/post-RR clipped into that range (so every ratio is bounded by
``max_rr_s / min_rr_s``) and are left out of the local and running means (so one bad detection
cannot shift the patient's baseline). A double detection 0.05 s after a beat gives pre-RR 0.15 s;
a 10-s dropout gives 3.0 s. A missed beat making a 2.4-s interval is plausible (a real pause can be
that long): it is reported as is and enters the baseline like any other interval.

**Edge rules.** Until beat i has a baseline interval (beats 0 and 1, or longer if the first
intervals are implausible) local and running means are the *warm-up RR*: the first plausible
interval among ``r[1] .. r[i+1]`` (within the look-ahead), else ``default_rr_s`` (0.8 s). With fewer
than ``local_beats`` baseline intervals the local mean is the mean of those available. A missing
interval (beat 0 has no pre-RR; the last beat of a record, or the newest beat of a stream at
:meth:`RRTracker.flush`, has no post-RR) is replaced by the beat's local mean, the best causal guess
of the interval. So a regular rhythm has every ratio exactly 1 from the first beat on.
:func:`rr_features` with ``return_mask=True`` also returns which values are genuine (see
:func:`rr_features`).
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

#: Column names of :func:`rr_features` (seconds for ``*_s``, dimensionless ratios otherwise).
RR_FEATURE_NAMES: tuple[str, ...] = (
    "pre_rr_s", "post_rr_s", "local_rr_s", "running_rr_s",
    "pre_local_ratio", "post_pre_ratio", "pre_running_ratio", "local_running_ratio",
)
_F = len(RR_FEATURE_NAMES)


@dataclass(frozen=True)
class RRConfig:
    """RR-feature settings (times in seconds).

    local_beats: number of most recent plausible intervals in the local mean RR.
    min_rr_s, max_rr_s: plausible interval range (0.15 s = 400 bpm, 3.0 s = 20 bpm); intervals
        outside it are clipped into it for pre/post-RR and excluded from the means.
    default_rr_s: warm-up RR (75 bpm) used as baseline until the first plausible interval is known.
    """

    local_beats: int = 10
    min_rr_s: float = 0.15
    max_rr_s: float = 3.0
    default_rr_s: float = 0.8

    def __post_init__(self) -> None:
        if int(self.local_beats) != self.local_beats or self.local_beats < 1:
            raise ValueError(f"local_beats must be a positive integer, got {self.local_beats!r}")
        if not 0.0 < self.min_rr_s < self.max_rr_s:
            raise ValueError(f"need 0 < min_rr_s < max_rr_s, got {self.min_rr_s}, {self.max_rr_s}")
        if not self.min_rr_s <= self.default_rr_s <= self.max_rr_s:
            raise ValueError(f"default_rr_s {self.default_rr_s} outside [{self.min_rr_s}, {self.max_rr_s}]")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RRConfig":
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


def _resolve(config: RRConfig, local_beats: int | None) -> RRConfig:
    if local_beats is None or local_beats == config.local_beats:
        return config
    return RRConfig(**{**config.to_dict(), "local_beats": local_beats})


def _assemble(pre: np.ndarray, post: np.ndarray, local: np.ndarray, running: np.ndarray) -> np.ndarray:
    """(n, F) float32 from float64 columns; the ratios are formed in float64 before the cast."""
    cols = (pre, post, local, running, pre / local, post / pre, pre / running, local / running)
    return np.stack(cols, axis=-1).astype(np.float32)


def _assemble_mask(pre_ok: np.ndarray, post_ok: np.ndarray, base_ok: np.ndarray) -> np.ndarray:
    cols = (pre_ok, post_ok, base_ok, base_ok, pre_ok & base_ok, post_ok & pre_ok, pre_ok & base_ok, base_ok)
    return np.stack(cols, axis=-1).astype(bool)


def integer_positions(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a 1-D int64 array of sample positions; ValueError (naming ``name``) when it is not 1-D
    or holds non-integer / non-finite values."""
    b = np.asarray(x)
    if b.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {b.shape}")
    if b.size and not np.issubdtype(b.dtype, np.integer):
        if not np.all(np.isfinite(b)) or np.any(b != np.round(b)):
            raise ValueError(f"{name} must be integer sample positions")
    return b.astype(np.int64)


def rr_features(
    beats: np.ndarray,
    fs: float,
    local_beats: int | None = None,
    config: RRConfig = RRConfig(),
    return_mask: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """RR-interval features of every beat of a record (rules in the module docstring).

    Features of beat i depend on beats ``<= i+1`` only (one beat of look-ahead, for the post-RR);
    :class:`RRTracker` gives identical values beat by beat.

    Args:
        beats: (n,) beat positions in samples at ``fs`` (R peaks or annotations), non-decreasing;
            two beats at the same sample give a 0-s interval, which is implausible and clipped.
        fs: sampling rate in Hz.
        local_beats: length of the local window in intervals; overrides ``config.local_beats`` when
            given.
        config: clipping range, warm-up RR and window length.
        return_mask: also return the validity mask.

    Returns:
        (n, F) float32 with columns :data:`RR_FEATURE_NAMES` (seconds and ratios). With
        ``return_mask``, also an (n, F) bool mask, True where the value is genuine: pre/post-RR when
        the interval exists and is plausible (not clipped, not filled in), local/running means once
        ``local_beats`` plausible baseline intervals exist (a full window), ratios when both of their
        operands are genuine. Masked values are still finite and follow the documented fallbacks.
    """
    cfg = _resolve(config, local_beats)
    if not fs > 0:
        raise ValueError(f"fs must be positive, got {fs}")
    b = integer_positions(beats, "beats")
    n = b.size
    if n == 0:
        out = np.zeros((0, _F), np.float32)
        return (out, np.zeros((0, _F), bool)) if return_mask else out
    d = np.diff(b)
    if np.any(d < 0):
        raise ValueError("beat positions must be non-decreasing")

    L = int(cfg.local_beats)
    r = np.full(n, np.nan)  # r[k]: interval ending at beat k (s); r[0] does not exist
    r[1:] = d.astype(np.float64) / fs
    ok = np.zeros(n, bool)
    ok[1:] = (r[1:] >= cfg.min_rr_s) & (r[1:] <= cfg.max_rr_s)
    rc = np.clip(r, cfg.min_rr_s, cfg.max_rr_s)

    # baseline of beat i: plausible intervals among r[1..i-1]; c[i] of them
    cnt = np.cumsum(ok)  # plausible intervals among r[0..k]
    c = np.zeros(n, np.int64)
    c[1:] = cnt[:-1]
    csum = np.zeros(int(cnt[-1]) + 1)
    csum[1:] = np.cumsum(r[ok])  # sequential sums, as RRTracker accumulates them
    lo = np.maximum(c - L, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        running = csum[c] / c
        local = (csum[c] - csum[lo]) / np.minimum(c, L)

    # warm-up RR: first plausible interval among r[1..i+1], else the default
    idx = np.flatnonzero(ok)
    warm = np.full(n, float(cfg.default_rr_s))
    if idx.size:
        first = int(idx[0])
        warm[max(first - 1, 0):] = r[first]
    empty = c == 0
    running[empty] = warm[empty]
    local[empty] = warm[empty]

    pre = rc.copy()
    pre[0] = local[0]
    post = np.empty(n)
    post[:-1] = rc[1:]
    post[-1] = local[-1]
    feats = _assemble(pre, post, local, running)
    if not return_mask:
        return feats
    post_ok = np.zeros(n, bool)
    post_ok[:-1] = ok[1:]
    return feats, _assemble_mask(ok, post_ok, c >= L)


class RRTracker:
    """Streaming RR features: push beats one at a time, get each beat's features one beat later.

    ``push(b[i+1])`` returns the features of beat i (it needs the next beat for the post-RR: exactly
    one beat of look-ahead; features of beat i use beats ``<= i+1`` only). ``flush()`` returns the
    newest beat's features with its post-RR filled in (end of record) and resets the tracker. The
    rows are bit-identical to :func:`rr_features` on the same beats. Memory is O(local_beats).

    Example::

        tr = RRTracker(fs=360.0)
        rows = [f for s in beat_samples if (f := tr.push(s)) is not None]
        rows.append(tr.flush())           # == rr_features(beat_samples, 360.0) row by row
    """

    def __init__(self, fs: float, config: RRConfig = RRConfig(), local_beats: int | None = None) -> None:
        if not fs > 0:
            raise ValueError(f"fs must be positive, got {fs}")
        self.fs = float(fs)
        self.config = _resolve(config, local_beats)
        self.reset()

    def reset(self) -> None:
        """Forget every beat (start of a new record or after a gap in the stream)."""
        L = int(self.config.local_beats)
        self._last: int | None = None  # newest beat b[j] (samples)
        self._pending: float | None = None  # r[j], the pre-RR of the newest beat (raw s)
        self._sums: deque[float] = deque([0.0], maxlen=L + 1)  # last L+1 cumulative sums of baseline
        self._count = 0  # baseline intervals so far
        self._first: float | None = None  # first plausible interval seen
        self.n_pushed = 0
        self.n_emitted = 0

    def _plausible(self, r: float) -> bool:
        return self.config.min_rr_s <= r <= self.config.max_rr_s

    def _clip(self, r: float) -> float:
        return float(np.clip(r, self.config.min_rr_s, self.config.max_rr_s))

    def _emit(self, pre_raw: float | None, post_raw: float | None) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        c, L = self._count, int(cfg.local_beats)
        if c == 0:
            local = running = self._first if self._first is not None else float(cfg.default_rr_s)
        else:
            total = self._sums[-1]
            running = total / c
            local = (total - self._sums[-1 - min(c, L)]) / min(c, L)
        pre = self._clip(pre_raw) if pre_raw is not None else local
        post = self._clip(post_raw) if post_raw is not None else local
        col = lambda v: np.array([v], dtype=np.float64)  # noqa: E731
        feats = _assemble(col(pre), col(post), col(local), col(running))[0]
        pre_ok = pre_raw is not None and self._plausible(pre_raw)
        post_ok = post_raw is not None and self._plausible(post_raw)
        mask = _assemble_mask(np.array([pre_ok]), np.array([post_ok]), np.array([c >= L]))[0]
        self.n_emitted += 1
        return feats, mask

    def push_masked(self, beat_sample: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Like :meth:`push`, also returning the (F,) validity mask of :func:`rr_features`."""
        s = int(beat_sample)
        if s != beat_sample:
            raise ValueError(f"beat position must be an integer sample index, got {beat_sample!r}")
        self.n_pushed += 1
        if self._last is None:
            self._last = s
            return None
        if s < self._last:
            self.n_pushed -= 1
            raise ValueError(f"beat positions must be non-decreasing: {s} after {self._last}")
        r_new = (s - self._last) / self.fs  # r[j+1]: post-RR of beat j, the one emitted now
        if self._first is None and self._plausible(r_new):
            self._first = r_new
        out = self._emit(self._pending, r_new)
        if self._pending is not None and self._plausible(self._pending):  # r[j] joins the baseline
            self._sums.append(self._sums[-1] + self._pending)
            self._count += 1
        self._pending, self._last = r_new, s
        return out

    def push(self, beat_sample: int) -> np.ndarray | None:
        """Add the next beat (sample index at ``fs``); returns the (F,) float32 features of the
        previous beat, now that its post-RR is known, or None for the first beat."""
        out = self.push_masked(beat_sample)
        return None if out is None else out[0]

    def flush_masked(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Like :meth:`flush`, also returning the validity mask."""
        if self._last is None:
            return None
        out = self._emit(self._pending, None)
        self.reset()
        return out

    def flush(self) -> np.ndarray | None:
        """Features of the newest beat with its post-RR replaced by its local mean (no next beat),
        as :func:`rr_features` treats a record's last beat; then :meth:`reset`. None if empty."""
        out = self.flush_masked()
        return None if out is None else out[0]
