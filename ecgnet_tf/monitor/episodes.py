"""Merging per-window rhythm decisions into episodes, online (streaming) and as a pure function.

Windows overlap, so each window *owns* the central part of its span: window k (start k*hop,
length W samples) owns [k*hop + (W - hop)/2, (k+1)*hop + (W - hop)/2); the first window owns from
0 and the last one to its end. Owned segments tile the recording, so durations add up without
double counting (for 10-s windows at 50 % overlap: 5 s each, centred on the window).

Merging rule (greedy, left to right): a run of windows labelled L (L != background) is an episode;
it continues through at most ``max_gap`` consecutive windows of other labels when the next window
after them is L again (those gap windows become part of the episode); otherwise it ends at its last
L window and scanning restarts at the window after it. Episodes spanning fewer than
``min_windows`` windows are dropped. :func:`merge_runs` is the specification;
:class:`EpisodeTracker` produces the same episodes online.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


@dataclass
class Event:
    """Something the monitor reports while streaming. Times in seconds from the recording start.

    kind: "episode_start" | "episode_end" | "window_rejected". time_s: when the event becomes known
    (end of the window that decided it). start_s / end_s: the episode (or window) span.
    """

    kind: str
    time_s: float
    label: str
    start_s: float
    end_s: float | None = None
    mean_prob: float | None = None
    reasons: tuple[str, ...] = ()


@dataclass
class Episode:
    """A merged run of windows with one label; times in s (owned segments, see module docstring)."""

    label: str
    first: int
    last: int
    start_s: float
    end_s: float
    alarm_s: float | None = None  # when the episode-start event was emitted
    prob_sum: float = 0.0
    n_prob: int = 0
    n_rejected: int = 0
    windows: list[int] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def n_windows(self) -> int:
        return self.last - self.first + 1

    @property
    def mean_prob(self) -> float | None:
        """Mean model probability of ``label`` over the episode's classified windows (None if none)."""
        return self.prob_sum / self.n_prob if self.n_prob else None


def merge_runs(labels: Sequence[str], background: str = "N", max_gap: int = 1, min_windows: int = 1
               ) -> list[tuple[str, int, int]]:
    """The merging rule as a pure function: ``(label, first, last)`` window indices per episode."""
    out: list[tuple[str, int, int]] = []
    n = len(labels)
    i = 0
    while i < n:
        lab = labels[i]
        if lab == background:
            i += 1
            continue
        last = i
        j = i + 1
        while j < n and j - last - 1 <= max_gap:
            if labels[j] == lab:
                last = j
            j += 1
        if last - i + 1 >= min_windows:
            out.append((lab, i, last))
        i = last + 1
    return out


@dataclass
class WindowView:
    """What the tracker needs from a window decision."""

    index: int
    label: str
    own_start_s: float
    own_end_s: float
    end_s: float
    prob: float | None  # probability of ``label`` (None for quality-rejected windows)
    rejected: bool


class EpisodeTracker:
    """Online version of :func:`merge_runs` that emits start / end events as soon as they are known."""

    def __init__(self, background: str = "N", max_gap: int = 1, min_windows: int = 1):
        self.background = background
        self.max_gap = max_gap
        self.min_windows = min_windows
        self.episodes: list[Episode] = []
        self._open: Episode | None = None
        self._open_views: list[WindowView] = []
        self._pending: list[WindowView] = []

    def update(self, w: WindowView) -> list[Event]:
        """Feed the next window (indices must increase by 1); returns the events it triggers."""
        return self._feed(w, now=w.end_s)

    def _feed(self, w: WindowView, now: float) -> list[Event]:
        ep = self._open
        if ep is None:
            if w.label == self.background:
                return []
            self._open = Episode(w.label, w.index, w.index, w.own_start_s, w.own_end_s)
            self._open_views = [w]
            return self._maybe_confirm(now)
        if w.label == ep.label:
            self._open_views += self._pending + [w]
            self._pending = []
            ep.last, ep.end_s = w.index, w.own_end_s
            return self._maybe_confirm(now)
        self._pending.append(w)
        if len(self._pending) <= self.max_gap:
            return []
        events = self._close(now)
        pending, self._pending = self._pending, []
        for p in pending:
            events += self._feed(p, now)
        return events

    def _maybe_confirm(self, now: float) -> list[Event]:
        ep = self._open
        if ep is not None and ep.alarm_s is None and ep.n_windows >= self.min_windows:
            ep.alarm_s = now
            return [Event("episode_start", now, ep.label, ep.start_s)]
        return []

    def _close(self, now: float) -> list[Event]:
        ep, views = self._open, self._open_views
        self._open, self._open_views = None, []
        if ep is None or ep.alarm_s is None:
            return []
        for v in views:
            ep.windows.append(v.index)
            ep.n_rejected += int(v.rejected)
            if v.label == ep.label and v.prob is not None:
                ep.prob_sum += v.prob
                ep.n_prob += 1
        self.episodes.append(ep)
        return [Event("episode_end", now, ep.label, ep.start_s, ep.end_s, ep.mean_prob)]

    def finish(self, now: float, last_end_s: float | None = None) -> list[Event]:
        """End of the recording: resolve pending windows and close what is open.

        ``last_end_s`` (s) extends the episode that contains the last window to that window's end.
        """
        events: list[Event] = []
        while self._open is not None or self._pending:
            if self._open is None:
                pending, self._pending = self._pending, []
                for p in pending:
                    events += self._feed(p, now)
                continue
            if self._pending:
                events += self._close(now)
            else:
                ep = self._open
                if last_end_s is not None:
                    ep.end_s = max(ep.end_s, last_end_s)
                events += self._close(now)
        return events
