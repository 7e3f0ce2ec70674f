"""Episode merging, burden, routing, reference parsing, Se/PPV and onset latency (pure logic)."""
from __future__ import annotations

import numpy as np
import pytest

import ecgnet_tf  # noqa: F401
from ecgnet_tf.monitor import burden, reference
from ecgnet_tf.monitor.config import RoutingConfig
from ecgnet_tf.monitor.episodes import EpisodeTracker, WindowView, merge_runs
from ecgnet_tf.monitor.routing import route


def _track(labels, max_gap, min_windows):
    tr = EpisodeTracker("N", max_gap, min_windows)
    events = []
    for k, lab in enumerate(labels):
        events += tr.update(WindowView(k, lab, 5.0 * k, 5.0 * (k + 1), 5.0 * k + 10, 0.9, False))
    events += tr.finish(5.0 * len(labels) + 5)
    return tr, events


def test_merge_runs_examples():
    L = ["N", "AF", "AF", "N", "AF", "N", "N", "AF", "noise", "N"]
    assert merge_runs(L, max_gap=0) == [("AF", 1, 2), ("AF", 4, 4), ("AF", 7, 7), ("noise", 8, 8)]
    assert merge_runs(L, max_gap=1) == [("AF", 1, 4), ("AF", 7, 7), ("noise", 8, 8)]
    assert merge_runs(L, max_gap=2) == [("AF", 1, 7), ("noise", 8, 8)]
    assert merge_runs(L, max_gap=1, min_windows=2) == [("AF", 1, 4)]
    # a gap that is not closed by the same label again is not absorbed
    assert merge_runs(["AF", "other", "other"], max_gap=1) == [("AF", 0, 0), ("other", 1, 2)]


@pytest.mark.parametrize("max_gap,min_windows", [(0, 1), (1, 1), (2, 1), (1, 3), (3, 2)])
def test_tracker_equals_merge_runs(max_gap, min_windows):
    rng = np.random.default_rng(max_gap * 10 + min_windows)
    for _ in range(40):
        labels = list(rng.choice(["N", "N", "N", "AF", "other", "noise"], size=int(rng.integers(0, 60))))
        tr, events = _track(labels, max_gap, min_windows)
        got = [(e.label, e.first, e.last) for e in tr.episodes]
        assert got == merge_runs(labels, "N", max_gap, min_windows)
        starts = [e for e in events if e.kind == "episode_start"]
        ends = [e for e in events if e.kind == "episode_end"]
        assert len(starts) == len(ends) == len(got)
        # events are never announced before the window that decides them has ended
        for ep, ev in zip(tr.episodes, starts):
            assert ev.time_s >= 5.0 * (ep.first + min_windows - 1) + 10


def test_tracker_times_and_mean_prob():
    tr = EpisodeTracker("N", 1, 1)
    probs = [None, 0.9, 0.8, None, 1.0]
    labs = ["N", "AF", "AF", "noise", "AF"]
    for k, (lab, p) in enumerate(zip(labs, probs)):
        tr.update(WindowView(k, lab, 5.0 * k, 5.0 * k + 5, 5.0 * k + 10, p, lab == "noise"))
    tr.finish(40.0, last_end_s=30.0)
    (ep,) = tr.episodes
    assert (ep.start_s, ep.end_s) == (5.0, 30.0)  # extended to the last window's end
    assert ep.mean_prob == pytest.approx(0.9)  # the bridged noise window has no AF probability
    assert ep.n_rejected == 1 and ep.alarm_s == 15.0


def test_burden_arithmetic():
    own = np.array([7.5, 5, 5, 5, 5, 7.5])
    ok = np.array([1, 1, 0, 1, 1, 1], bool)
    af = np.array([0, 1, 1, 1, 0, 0], bool)
    # AF analysable: 5 + 5 = 10 s of 30 s analysable
    assert burden.af_burden_pct(own, ok, af) == pytest.approx(100 * 10 / 30)
    assert burden.af_burden_pct(own, np.zeros(6, bool), af) is None
    lab = burden.label_per_window(5, [("AF", 1, 2), ("noise", 4, 4)])
    assert list(lab) == ["N", "AF", "AF", "N", "noise"]
    h = burden.hourly_minutes(np.array([3000.0, 7200.0]), np.array([4200.0, 7260.0]), 3)
    assert h == pytest.approx([10.0, 10.0, 1.0])


def test_routing_thresholds():
    cfg = RoutingConfig(auto_report=0.95, review=0.85)
    assert route(0.95, cfg) == "auto_report"
    assert route(0.9499, cfg) == "cardiologist_review"
    assert route(0.85, cfg) == "cardiologist_review"
    assert route(0.8499, cfg) == "extended_monitoring"
    assert route(None, cfg) == "extended_monitoring"
    assert route(0.9, RoutingConfig(auto_report=0.9, review=0.5)) == "auto_report"
    with pytest.raises(ValueError):
        RoutingConfig(auto_report=0.8, review=0.9)


def test_reference_intervals_from_rhythm_notes():
    samples = [0, 3600, 7200, 9000, 10800, 14400]
    notes = ["(N", "(AFIB\x00", "(AFL", "(AFIB", "", "(N"]
    iv = reference.rhythm_intervals(samples, notes, 360.0, 36000)
    assert iv == [(10.0, 20.0), (25.0, 40.0)]
    # AF running at the end closes at the end of the record
    assert reference.rhythm_intervals([0, 360], ["(N", "(AFIB"], 360.0, 3600) == [(1.0, 10.0)]


def test_episode_scores_and_latency():
    ref = [(100.0, 200.0), (400.0, 500.0), (5.0, 50.0)]
    det = [(90.0, 150.0), (160.0, 210.0), (600.0, 620.0)]
    s = reference.episode_scores(ref, det)
    assert s["episode_sensitivity"] == pytest.approx(1 / 3)
    assert s["episode_ppv"] == pytest.approx(2 / 3)
    assert s["overlap_s"] == pytest.approx(50 + 40)
    assert s["duration_sensitivity"] == pytest.approx(90 / 245)
    wins = [(95.0, 105.0), (100.0, 110.0), (405.0, 415.0), (0.0, 10.0)]
    lat = reference.onset_latencies(ref, wins, window_s=10.0)
    # (5, 50) starts inside the first window: excluded; first AF window over (100, 200) ends at 105
    assert lat["excluded"] == 1
    assert lat["latencies_s"] == [5.0, 15.0]
    assert lat["median_s"] == pytest.approx(10.0)
    assert reference.onset_latencies([(300.0, 310.0)], wins, 10.0)["latencies_s"] == [None]
