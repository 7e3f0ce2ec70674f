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


def test_a_few_record_task_is_judged_by_record_probabilities_and_auc():
    auc = {"level": "record", "n": 70, "max_abs_delta": 0.004,
           "per_class": {"NORM": {"float": 0.95, "int8": 0.954, "delta": 0.004, "n_positive": 50},
                         "MI": {"float": 0.95, "int8": 0.946, "delta": -0.004, "n_positive": 20}}}
    rep = {"parity": {"top1_agreement": 0.9, "decision": {"level": "record", "n": 70, "max_abs_prob_diff": 0.03}},
           "metric_deltas": {"auc": auc}}
    checks = {c["target"]: c for c in rp.agreement_checks(rep)}
    assert set(checks) == {"record_prob_diff", "auc_delta"}
    assert checks["record_prob_diff"]["met"] is False and abs(checks["record_prob_diff"]["margin"] + 0.01) < 1e-12
    assert checks["auc_delta"]["met"] is True
    assert "MI: AUC float 0.9500, int8 0.9460 (20 positive records)" in rp._cause_auc({"auc": auc})
    # many records (CinC), or beats (MIT-BIH): window agreement, as before
    for decision in ({"level": "record", "n": rp.FEW_RECORDS + 1, "max_abs_prob_diff": 0.0},
                     {"level": "beat", "n": 50, "max_abs_prob_diff": 0.0}):
        rep["parity"]["decision"] = decision
        assert [c["target"] for c in rp.agreement_checks(rep)] == ["top1_agreement"]
    m = _model(0.99)
    m["int8"]["metric_deltas"]["auc"] = auc
    m["int8"]["parity"]["decision"].update(max_abs_prob_diff=0.03, mean_abs_prob_diff=0.01)
    md = rp.markdown({"generated": "now", "seconds": 1, "host_cpu": "cpu", "work_dir": "runs/w", "models": [m],
                      "reference": None})
    assert "record level (70 test records): max |dp| 0.0300, mean |dp| 0.0100" in md


def test_speed_layers_for_every_run_or_one_run():
    every, per_run = rp.parse_task_layers(["stem_conv,mhsa_norm", "ptbxl-mi=mhsa", "cinc2017=mhsa, rr_log"])
    assert every == ("stem_conv", "mhsa_norm")
    assert per_run == (("ptbxl-mi", ("mhsa",)), ("cinc2017", ("mhsa", "rr_log")))
    cfg = rp.ExportReportConfig(speed_layers=every, run_speed_layers=per_run)
    assert cfg.speed_layers_of("ptbxl-mi") == ("stem_conv", "mhsa_norm", "mhsa")
    assert cfg.speed_layers_of("mitdb") == every
    assert rp.ExportReportConfig(qat_float=per_run).qat_float_of("cinc2017") == ("mhsa", "rr_log")
    md = rp.markdown({"generated": "now", "seconds": 1, "host_cpu": "cpu", "work_dir": "runs/w", "models": [],
                      "reference": None, "options": {"float_fallback": "auto", "max_bytes": 1, "speed_layers": list(every),
                                                     "run_speed_layers": [["ptbxl-mi", ["mhsa"]]]}})
    assert "--float-for-speed stem_conv,mhsa_norm --float-for-speed ptbxl-mi=mhsa" in md


def test_qat_is_compared_with_ptq_row_by_row():
    rep = {"size_bytes": 950_000, "parity": {"top1_agreement": 0.976, "n": 100,
                                             "decision": {"level": "beat", "agreement": 0.994, "n": 100}},
           "metric_deltas": {"macro_f1": {"delta_points": -0.02}},
           "float_fallback": {"float_layers": ["bilstm0"]},
           "qat": {"windows": 2048, "epochs": 2, "lr": 1e-5, "seconds": 80.0, "float_layers": ["rr_dense0"]}}
    q = rp.qat_summary(rep)
    assert q["top1_agreement"] == 0.976 and q["fine_tune"]["windows"] == 2048 and q["not_simulated"] == ["rr_dense0"]
    assert q["auc_max_abs_delta"] is None and q["float_layers"] == ["bilstm0"]
    m = _model(0.974)
    assert rp.qat_table([m]) == []  # no QAT export: no table
    m["qat"] = q
    md = rp.markdown({"generated": "now", "seconds": 1, "host_cpu": "cpu", "work_dir": "runs/w", "models": [m],
                      "reference": None})
    assert "## QAT against post-training quantisation" in md
    assert "| t | QAT (2048 windows x 2 epochs, lr 1e-05) | 0.9760 | 0.9940 | - | -0.02 | - | 950,000 |" in md
    assert "| t | PTQ (int8) | 0.9740 | 0.9900 | - | -0.70 | - | 900,000 |" in md
