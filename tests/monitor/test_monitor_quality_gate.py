"""The monitor applies the fitted quality gate on the raw lead: noisy stretches are rejected with
reasons and seconds, left out of the AF burden, and a mostly unreadable recording is answered
"unreadable" instead of AF / no AF."""
from __future__ import annotations

import numpy as np
import pytest

import ecgnet_tf  # noqa: F401
from ecgnet_tf.monitor.config import MonitorConfig
from ecgnet_tf.monitor.monitor import Monitor
from ecgnet_tf.monitor.report import build_report
from ecgnet_tf.monitor.rule import RRRuleClassifier, rule_spec
from ecgnet_tf.signal_quality.noise import add_noise
from ecgnet_tf.synthetic import synth_ecg

FS = 250.0


def _run(x: np.ndarray, **kw) -> tuple[Monitor, dict]:
    mon = Monitor(RRRuleClassifier(rule_spec()), MonitorConfig(fs=FS, **kw))
    for i in range(0, x.shape[0], 4000):
        mon.push(x[i:i + 4000])
    mon.finish()
    return mon, build_report(mon)


def test_noisy_stretch_is_rejected_with_reasons_and_seconds():
    x = synth_ecg(300.0, FS, 70.0, "sinus", seed=4).signal[:, 0].astype(np.float64)
    a, b = int(100 * FS), int(200 * FS)
    x[a:b] = add_noise(x[a:b], FS, "motion", -6.0, 3)
    mon, rep = _run(x)
    rej = rep["rejected_windows"]
    assert rej["quality_gate"] is not None and rej["count"] >= 5
    assert sum(rej["seconds_by_reason"].values()) == pytest.approx(rej["seconds"]) and rej["seconds"] >= 25.0
    bad = [w for w in mon.windows if not w.ok]
    assert all(95.0 <= w.start_s <= 200.0 for w in bad), [w.start_s for w in bad]
    assert all(w.label == "noise" and w.reasons and w.quality_score is not None for w in bad)
    assert rep["analysable_s"] + rej["seconds"] == pytest.approx(sum(w.own_s for w in mon.windows))
    # without the fitted gate, the preprocessing checks alone let most of the noise through
    _, plain = _run(x, use_quality_gate=False)
    assert plain["rejected_windows"]["count"] < rej["count"]
    assert plain["rejected_windows"]["quality_gate"] is None


def test_mostly_unreadable_recording_abstains():
    x = synth_ecg(120.0, FS, 70.0, "sinus", seed=5).signal[:, 0].astype(np.float64)
    x = add_noise(x, FS, "motion", -10.0, 1) + add_noise(np.zeros_like(x) + 1e-3, FS, "baseline", -20.0, 2)
    _, rep = _run(x)
    assert rep["rejected_windows"]["fraction"] > 0.5
    assert rep["routing"]["overall"]["decision"] == "unreadable"
    assert rep["routing"]["overall"]["routing"] == "extended_monitoring"
