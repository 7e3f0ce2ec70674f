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

#: Published inter-patient MIT-BIH results (DS1 -> DS2 as published, 22 records), in percent, as quoted
#: in the project's beat issue: shown in the beat report as a separate, labelled table, never as our results.
#: None where the publication reports another figure (Niu et al. give F1).
PUBLISHED_BEAT_BASELINES: tuple[dict, ...] = (
    {"method": "de Chazal et al. 2004 (linear discriminants)", "S_se": 76, "S_ppv": 38, "V_se": 77, "V_ppv": 82},
    {"method": "Zhang et al. 2014", "S_se": 79.1, "S_ppv": 36.0, "V_se": 85.5, "V_ppv": 92.7},
    {"method": "Lin & Yang 2014 (normalised RR + morphology)", "S_se": 81, "S_ppv": 31, "V_se": 86, "V_ppv": 73},
    {"method": "Niu et al. 2020 (symbolic input + CNN)", "S_se": None, "S_ppv": None, "V_se": None, "V_ppv": None,
     "S_f1": 76.6, "V_f1": 89.7},
)

#: The beat issue's targets (fractions): strict DS2, reference R peaks, mean of three seeds; the
#: end-to-end mode within ``end_to_end_within`` of each.
BEAT_TARGETS: dict[str, float] = {"S_sensitivity": 0.80, "S_ppv": 0.55, "V_sensitivity": 0.92, "V_ppv": 0.92,
                                  "accuracy": 0.94, "end_to_end_within": 0.02}

#: Published CinC 2017 figures, as quoted in the project's rhythm issue (mean F1 of N, A and O): shown in
#: the rhythm report as a separate, labelled table, never as our results. Different data: the hidden
#: test set, or cross-validation on all 8,528 training records (we see 5,115 of them).
PUBLISHED_RHYTHM_BASELINES: tuple[dict, ...] = (
    {"method": "CinC 2017 winners (four tied entries)", "evaluation": "hidden test set", "challenge_f1": 0.83},
    {"method": "Zabihi et al. 2017 (features + random forest)", "evaluation": "10-fold CV, training set",
     "challenge_f1": 0.82},
)

#: The rhythm issue's targets: 5-fold CV on the shared records, mean over folds.
RHYTHM_TARGETS: dict[str, float] = {"challenge_f1": 0.80, "A_f1": 0.85}
