"""The quality study end to end on the fake databases (quick mode): every stage writes its file,
the report holds the checked keys, and the gate is never fitted on a test record."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet_tf import quality_study
from ecgnet_tf.bench import quality_gate_eval as qe
from ecgnet_tf.signal_quality import DEFAULT_GATE_PATH


@pytest.mark.slow
def test_quick_study_writes_every_stage(fake_data, trained_run, tmp_path):
    shipped = DEFAULT_GATE_PATH.read_bytes()
    out = tmp_path / "quality"
    argv = ["--data-dir", str(fake_data), "--out", str(out), "--quick", "--cache-dir", str(tmp_path / "cache"),
            "--beat-run", str(trained_run("mitdb-aami")), "--rhythm-run", str(trained_run("cinc2017"))]
    assert quality_study.main(argv) == 0
    assert DEFAULT_GATE_PATH.read_bytes() == shipped, "--quick must never replace the shipped gate"
    s = json.loads((out / "summary.json").read_text())
    for k in ("cinc_noisy_sensitivity", "cinc_false_rejection", "mitdb_rejection"):
        assert isinstance(s[k], float) and 0.0 <= s[k] <= 1.0
    assert s["quick"] is True
    for name in ("robustness_beats.json", "robustness_rhythm.json"):
        rows = json.loads((out / name).read_text())["rows"]
        assert [r["condition"] for r in rows] == ["clean", "gaussian@6dB"]
        assert all(0.0 <= r["rejected_fraction"] <= 1.0 for r in rows)
    assert json.loads((out / "throughput.json").read_text())["windows"] > 0
    text = (out / "report.md").read_text()
    assert "not a result" in text and "## CinC 2017" in text and (out / "quality_robustness.png").is_file()
    assert quality_study.main([*argv[:4], "--stages", "nope"]) == 2


def test_the_fit_only_sees_training_records(fake_data, tmp_path, monkeypatch):
    """Every fold's gate is fitted on ids disjoint from that fold's test ids (spy on the fit)."""
    seen: list[tuple[str, ...]] = []
    real = qe.fit_on

    def spy(table, labels, ids, cfg, fitted_on):
        seen.append(tuple(ids))
        return real(table, labels, ids, cfg, fitted_on)

    monkeypatch.setattr(qe, "fit_on", spy)
    res = qe.cinc_cross_validation(fake_data, tmp_path / "cache", folds=3, log=lambda m: None)
    assert len(seen) == 3
    for fold, ids in enumerate(seen):
        _, test, _ = qe.fold_partitions(fake_data, fold, 3)
        assert set(ids).isdisjoint(test) and len(ids) + len(test) == 24
        assert res["folds"][fold]["train_ids_sha"] == qe.ids_digest(ids)
    # the shipped fit excludes the default split's test records
    gate, _ = qe.fit_shipped_gate(fake_data, tmp_path / "cache")
    _, test0, _ = qe.fold_partitions(fake_data, 0, 5)
    assert gate.fitted_on["excluded_test_ids_sha"] == qe.ids_digest(test0)
    assert gate.fitted_on["records"] == 24 - len(test0)
    assert np.isfinite(res["pooled"]["sensitivity"])
