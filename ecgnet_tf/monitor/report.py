"""Assemble report.json / episodes.csv / windows.csv (/ beats.csv) from a finished Monitor."""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np

from ..claims import PAPER_CLAIMS
from ..signal_quality import gate_digest
from . import burden, fhir, reference
from .monitor import Monitor
from .routing import route
from .sources import SignalInfo


def episode_rows(mon: Monitor) -> list[dict]:
    """Episodes as plain dicts (times in s), with routing from their mean probability."""
    rows = []
    for ep in mon.episodes:
        mp = ep.mean_prob
        rows.append({"label": ep.label, "start_s": round(ep.start_s, 3), "end_s": round(ep.end_s, 3),
                     "duration_s": round(ep.duration_s, 3), "mean_prob": None if mp is None else round(mp, 4),
                     "routing": route(mp, mon.cfg.routing), "n_windows": ep.n_windows,
                     "n_rejected_windows": ep.n_rejected,
                     "alarm_s": None if ep.alarm_s is None else round(float(ep.alarm_s), 3)})
    return rows


def _seconds_by_reason(wins) -> dict[str, float]:
    """Owned time (s) of the rejected windows, by their first reason (so the seconds add up)."""
    out: Counter = Counter()
    for w in wins:
        if not w.ok:
            out[w.reasons[0] if w.reasons else "UNKNOWN"] += w.own_s
    return {k: round(float(v), 3) for k, v in sorted(out.items())}


def overall_routing(mon: Monitor, episodes: list[dict], rejected_fraction: float | None) -> dict:
    """Recording-level decision and routing.

    Decision "AF" when there is an AF episode; confidence = duration-weighted mean of the AF
    episodes' mean probabilities. Otherwise "no AF" with confidence = mean over analysable windows
    of (1 - P(AF)). Routed with the same thresholds; "extended_monitoring" regardless when more than
    ``routing.max_rejected_fraction`` of the windows were rejected or nothing was analysable, and
    then the decision is "unreadable" (the monitor abstains instead of guessing).
    """
    cfg = mon.cfg
    af = [e for e in episodes if e["label"] == cfg.af_label and e["mean_prob"] is not None]
    if af:
        w = np.array([e["duration_s"] for e in af])
        conf = float(np.average([e["mean_prob"] for e in af], weights=w if w.sum() > 0 else None))
        decision = "AF"
    else:
        af_idx = [i for i, c in enumerate(mon.spec.classes) if cfg.labels.get(c, c) == cfg.af_label]
        p = [1 - sum(w.decision_probs[i] for i in af_idx) for w in mon.windows if w.ok and w.decision_probs is not None]
        conf = float(np.mean(p)) if p else None
        decision = "no AF"
    r, reason = route(conf, cfg.routing), "confidence"
    if rejected_fraction is None or rejected_fraction > cfg.routing.max_rejected_fraction:
        # abstain: too little readable signal to say AF / no AF
        decision, conf = "unreadable", None
        r, reason = "extended_monitoring", "too few analysable windows"
    counts = Counter(e["routing"] for e in episodes)
    return {"overall": {"decision": decision, "confidence": None if conf is None else round(conf, 4),
                        "routing": r, "reason": reason},
            "episodes": {k: counts.get(k, 0) for k in ("auto_report", "cardiologist_review", "extended_monitoring")},
            "thresholds": {"auto_report": cfg.routing.auto_report, "review": cfg.routing.review,
                           "max_rejected_fraction": cfg.routing.max_rejected_fraction}}


def reference_section(mon: Monitor, ref: list[tuple[float, float]], episodes: list[dict]) -> dict:
    """Se / PPV / onset latency against reference AF intervals (definitions in reference.py)."""
    det = [(e["start_s"], e["end_s"]) for e in episodes if e["label"] == mon.cfg.af_label]
    af_windows = [(w.start_s, w.end_s) for w in mon.windows if w.ok and w.label == mon.cfg.af_label]
    scores = reference.episode_scores(ref, det)
    lat = reference.onset_latencies(ref, af_windows, mon.spec.window_s)
    ref_pct = 100.0 * reference.total_s(ref) / mon.duration_s if mon.duration_s > 0 else None
    return {"reference_af_intervals": [[round(a, 3), round(b, 3)] for a, b in ref],
            "reference_af_burden_pct": ref_pct, **scores,
            "onset_latency_s": {**lat, "paper_claim_median_s": PAPER_CLAIMS["monitoring"]["af_onset_latency_s"],
                                "paper_claim_note": "claim from the paper, not measured here"}}


def build_report(mon: Monitor, info: SignalInfo | None = None, model_source: str = "",
                 ref: list[tuple[float, float]] | None = None) -> dict:
    """The report.json content (see analyze.py for the keys)."""
    cfg, spec = mon.cfg, mon.spec
    wins = mon.windows
    own = np.array([w.own_s for w in wins])
    ok = np.array([w.ok for w in wins], dtype=bool)
    label_of = burden.label_per_window(len(wins), [(e.label, e.first, e.last) for e in mon.episodes], cfg.background)
    is_af = label_of == cfg.af_label
    n_rej = int((~ok).sum())
    rej_frac = n_rej / len(wins) if wins else None
    episodes = episode_rows(mon)
    af_eps = [e for e in episodes if e["label"] == cfg.af_label]
    af_mask = is_af & ok
    n_hours = max(1, int(np.ceil(mon.duration_s / 3600.0)))
    starts = np.array([w.own_start_s for w in wins])
    ends = np.array([w.own_end_s for w in wins])
    hourly_af = burden.hourly_minutes(starts[af_mask], ends[af_mask], n_hours) if wins else np.zeros(n_hours)
    hourly_ok = burden.hourly_minutes(starts[ok], ends[ok], n_hours) if wins else np.zeros(n_hours)
    subject = str(info.path) if info else "stream"
    t0 = info.start_time if info else None
    rep: dict = {
        "input": {} if info is None else {
            "path": str(info.path), "format": info.format, "fs_hz": info.fs, "n_samples": mon.n_samples,
            "leads": list(info.selected_names), "start_time": t0.isoformat() if t0 else None},
        "duration_s": round(mon.duration_s, 3),
        "model": {"source": model_source, "task": spec.task, "classes": list(spec.classes), "window_s": spec.window_s,
                  "overlap": spec.segment_overlap, "prior_kind": spec.prior_kind, "fs_hz": spec.fs},
        "monitor_config": {"margin_s": cfg.margin_s, "block_windows": cfg.block_windows,
                           "max_gap_windows": cfg.max_gap_windows, "min_episode_windows": cfg.min_episode_windows,
                           "labels": cfg.labels,
                           # how AF was decided: each window's argmax, or the validated smoothing (of the
                           # record model's probabilities on the last context_s seconds when that is set)
                           "af_decisions": {"smoothing": cfg.smoothing.to_dict() if cfg.smoothing else None,
                                            "context_s": cfg.context.context_s if cfg.context else None}},
        "windows": {"count": len(wins), "analysable": int(ok.sum()), "hop_s": spec.hop_samples / spec.fs,
                    "by_label": dict(Counter(w.label for w in wins))},
        "rejected_windows": {"count": n_rej, "fraction": rej_frac, "by_reason": dict(mon.rejected_by_reason),
                             "seconds": float(own[~ok].sum()) if wins else 0.0,
                             "seconds_by_reason": _seconds_by_reason(wins),
                             "quality_gate": None if mon.gate is None else gate_digest(mon.gate)},
        "episodes": episodes,
        "af_burden_pct": burden.af_burden_pct(own, ok, is_af) if wins else None,
        "analysable_s": float(own[ok].sum()) if wins else 0.0,
        "af_time_s": float(own[af_mask].sum()) if wins else 0.0,
        "af_episode_count": len(af_eps),
        "longest_af_episode_s": max((e["duration_s"] for e in af_eps), default=0.0),
        "hourly_af_minutes": [round(float(v), 3) for v in hourly_af],
        "hourly_analysable_minutes": [round(float(v), 3) for v in hourly_ok],
    }
    rep["routing"] = overall_routing(mon, episodes, rej_frac)
    if mon.beat_classifier is not None:
        rep["beats"] = {"count": len(mon.beats), "model_task": mon.beat_classifier.spec.task,
                        "by_class": dict(Counter(b.label for b in mon.beats))}
    if ref is not None:
        sec = reference_section(mon, ref, episodes)
        rep["reference"] = sec
        rep["episode_sensitivity"] = sec["episode_sensitivity"]
        rep["episode_ppv"] = sec["episode_ppv"]
        rep["onset_latency_s"] = sec["onset_latency_s"]
    rep["observations"] = ([fhir.episode_observation(e, subject, t0) for e in episodes]
                           + [fhir.burden_observation(rep["af_burden_pct"], mon.duration_s, subject, t0),
                              fhir.summary_observation(rep["routing"]["overall"], mon.duration_s, subject, t0)])
    return rep


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def write_tables(mon: Monitor, rep: dict, out: Path) -> None:
    """episodes.csv, windows.csv and (with a beat model) beats.csv under ``out``."""
    cols = ["label", "start_s", "end_s", "duration_s", "mean_prob", "routing", "n_windows", "n_rejected_windows",
            "alarm_s"]
    _write_csv(out / "episodes.csv", cols, [[e[c] for c in cols] for e in rep["episodes"]])
    classes = list(mon.spec.classes)
    # with a context model (MonitorConfig.context) its probabilities, which the labels rest on, follow
    ctx = mon.cfg.context is not None
    _write_csv(out / "windows.csv", ["index", "start_s", "end_s", "ok", "label", "prob", "reasons", "hr_bpm"]
               + [f"p_{c}" for c in classes] + ([f"context_p_{c}" for c in classes] if ctx else []),
               [[w.index, round(w.start_s, 3), round(w.end_s, 3), int(w.ok), w.label,
                 "" if w.prob is None else round(w.prob, 4), "|".join(w.reasons),
                 "" if w.hr_bpm != w.hr_bpm else round(w.hr_bpm, 1)]
                + ([round(v, 4) for v in w.probs] if w.probs else [""] * len(classes))
                + (([round(v, 4) for v in w.context_probs] if w.context_probs else [""] * len(classes)) if ctx else [])
                for w in mon.windows])
    if mon.beat_classifier is not None:
        _write_csv(out / "beats.csv", ["time_s", "label", "prob"],
                   [[round(b.time_s, 3), b.label, round(b.prob, 4)] for b in mon.beats])


def write_json(rep: dict, path: Path) -> None:
    path.write_text(json.dumps(rep, indent=2, default=float))
