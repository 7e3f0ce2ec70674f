"""The export report's target checks and its Markdown (no models: a synthetic summary)."""
from __future__ import annotations

from ecgnet_tf.export import report as rp


def _model(agreement: float) -> dict:
    checks = [rp._check("top1_agreement", agreement), rp._check("int8_bytes", 900_000),
              rp._check("macro_f1_delta_points", abs(-0.7)), rp._check("latency_ratio", 2.4)]
    checks[0]["cause"] = "best single float layer mhsa"
    par = {"n": 100, "subset": "all windows", "top1_agreement": agreement, "mean_abs_prob_diff": 0.01,
           "decision": {"level": "record", "agreement": 0.99, "n": 10, "n_disagree": 1}}
    f1 = {"int8": 0.5, "float": 0.507, "delta": -0.007, "delta_points": -0.7}
    return {"task": "t", "run_dir": "runs/x", "config": "edge", "checks": checks, "export_seconds": 3.0,
            "int8": {"size_bytes": 900_000, "parity": par, "scale_repairs": [],
                     "metric_deltas": {"macro_f1": f1, "per_class_f1": {"A": f1}},
                     "float_fallback": {"float_layers": ["d2"], "size_cost_bytes": 10, "selection": {"n": 5},
                                        "all_int8": {"selection_agreement": 0.9}, "chosen": {"selection_agreement": 0.95}}},
            "float32": {"size_bytes": 2_000_000},
            "latency": {"int8_p50_ms": 2.4, "float32_p50_ms": 1.0, "ratio": 2.4, "runs": 10}}


def test_checks_say_met_or_missed_and_by_how_much():
    c = rp._check("top1_agreement", 0.99)
    assert c["met"] is False and abs(c["margin"] + 0.005) < 1e-12
    assert rp._check("int8_bytes", 1_000_000)["met"] is True and rp._check("int8_bytes", 1_000_001)["met"] is False
    assert rp._check("latency_ratio", 0.5)["margin"] == 0.8 - 0.5
    assert rp._check("edge_int8_vs_paper_float32", None)["met"] is None


def test_markdown_shows_every_target_and_the_cause_of_a_miss():
    md = rp.markdown({"generated": "now", "seconds": 1, "host_cpu": "cpu", "work_dir": "runs/w",
                      "models": [_model(0.99)], "reference": None})
    assert md.count("| t |") == 4 and "**missed**" in md and "best single float layer mhsa" in md
    assert "0.9900" in md and "900,000 B" in md and "-0.70 points" in md


def test_markdown_names_the_options_and_the_stored_weights():
    m = _model(0.99)
    m["int8"]["float_fallback"].update({"weights": "int8", "stored_weights": {
        "tensors": 32, "float32_bytes": 917_504, "stored_bytes": 229_376, "readers": ["UNIDIRECTIONAL_SEQUENCE_LSTM"],
        "max_relative_error": 0.004}})
    md = rp.markdown({"generated": "now", "seconds": 1, "host_cpu": "cpu", "work_dir": "runs/w", "models": [m],
                      "reference": None, "options": {"float_fallback": "auto", "max_bytes": 1_000_000,
                                                     "float_lstm": True, "fallback_weights": "int8"}})
    assert "`--float-fallback auto --max-bytes 1000000 --float-lstm --fallback-weights int8`" in md
    assert "weights stored as int8 (UNIDIRECTIONAL_SEQUENCE_LSTM: 32 tensors, 917,504 -> 229,376 B" in md


def test_the_dynamic_range_control_is_reported_as_the_measured_cause():
    control = {"size_bytes": 850_000, "p50_ms": 1.8, "ratio_to_float32": 1.8,
               "parity": {"top1_agreement": 0.998, "n": 100}}
    cause = rp._cause_activations(control)
    assert "0.9980" in cause and "1.80x float32" in cause and "850,000 B" in cause
    m = _model(0.99)
    m["dynamic_range"] = control
    md = rp.markdown({"generated": "now", "seconds": 1, "host_cpu": "cpu", "work_dir": "runs/w", "models": [m],
                      "reference": None})
    assert "float activations (`--mode dynamic`): 850,000 B, top-1 agreement 0.9980 on 100 test windows" in md


def test_the_disagreement_anatomy_is_reported_as_the_measured_cause():
    par = {"decision": {"level": "beat", "agreement": 0.9968, "n": 1000, "n_disagree": 3},
           "anatomy": {"n": 1000, "n_differ": 25, "pairs": {"F->N": 20, "N->S": 5},
                       "n_differ_between_merged_classes": 20,
                       "float_margin": {"share_of_differ_below_0.05": 0.7, "share_of_all_below_0.05": 0.05}}}
    cause = rp._cause_anatomy(par)
    assert "25 windows differ (float -> int8: F->N 20, N->S 5)" in cause
    assert "20 of them between classes the run's decision rule merges" in cause
    assert "on 70% of them" in cause and "on 5% of all windows" in cause
    assert "beat-level decisions agree on 0.9968 (3 of 1,000 differ)" in cause
    assert rp._cause_anatomy({"decision": {}}) == ""
    par["anatomy"].update(n_differ_between_merged_classes=0)
    assert "merges" not in rp._cause_anatomy(par)
