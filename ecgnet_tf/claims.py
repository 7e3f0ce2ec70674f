"""Figures the paper claims, as quoted in the project's issues: shown next to measured values,
always labelled as claims, never used as results.

Per-task Table 1 metrics are not transcribed here yet: where a claim is missing the reports say so
instead of inventing one.
"""
from __future__ import annotations

PAPER_CLAIMS: dict[str, dict[str, float | str]] = {
    "preprocessing": {"hf_power_retained_0.5-150Hz": 0.92, "hf_power_retained_0.5-40Hz": 0.67},
    "model": {"compressed_params": 3.56e6, "compressed_gflops": 6.2, "int8_size_mb": 3.5,
              "separable_param_reduction": 0.58},
    "edge": {"battery_mah_per_hour": 2.3},
    "monitoring": {"af_onset_latency_s": 8.2},
    "interpretability": {"top_attention_overlap": 0.73, "qrs_share": 0.42, "st_t_share": 0.28, "pr_share": 0.18,
                         "baseline_share": 0.12, "v4_v6_share_mi": 0.38},
}

TASK_CLAIMS: dict[str, dict[str, float]] = {
    # Table 1 of the paper, per task; empty until transcribed from the paper itself.
    "mitdb-aami": {},
    "ptbxl-mi": {},
    "ptbxl-mi-loc": {},
    "cinc2017": {},
}
