"""The model report CLI writes the documented JSON layout and a Markdown table."""
from __future__ import annotations

import json

import ecgnet_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
from ecgnet_tf import model_report


def test_report_json_and_markdown(tmp_path):
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    rc = model_report.main(["--json", str(out), "--markdown", str(md), "--configs", "baseline",
                            "--runs", "2", "--warmup", "1", "--no-tflite"])
    assert rc == 0
    report = json.loads(out.read_text())
    assert set(report) == {"configs", "targets", "meta"}
    entry = report["configs"]["baseline"]
    assert set(entry) == {"12x3600", "1x3600"}
    for key in entry:
        assert set(entry[key]) == {"params", "flops", "latency_ms", "float32_bytes"}
        assert entry[key]["float32_bytes"] == 4 * entry[key]["params"]
        assert entry[key]["latency_ms"] > 0 and entry[key]["flops"] > 0
    assert "| baseline |" in md.read_text()


def test_targets_logic():
    cfgs = {
        "edge": {"12x3600": {"params": 700_000, "flops": 2e8}},
        "edge_standard": {"12x3600": {"params": 2_000_000, "flops": 1e9}},
    }
    t = model_report.targets(cfgs, {})
    assert t["edge_params_le_1M"]["pass"] and t["edge_gflops_le_0.5"]["pass"]
    assert t["separable_reduction_edge_vs_edge_standard"]["value"] == 0.65
    cfgs["edge"]["12x3600"]["params"] = 1_200_000
    assert not model_report.targets(cfgs, {})["edge_params_le_1M"]["pass"]
