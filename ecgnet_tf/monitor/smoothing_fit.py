"""Choosing the monitor's AF smoothing (:class:`~.smoothing.AFSmoothing`) on validation records only.

CinC 2017 records are single 9-61 s recordings with one label each. To judge episode-level
behaviour, :func:`validation_streams` joins a run's **validation** records, in a seeded random order,
into a few long streams whose reference AF episodes are the runs of consecutive AF records; the
network's window probabilities of those records (from the run's validation evaluation) are decided
with every candidate setting, merged into episodes by the monitor's own rule
(:func:`~.episodes.merge_runs`) and scored (:func:`score_stream`). :func:`choose_smoothing` keeps the
setting with the best episode F1 (harmonic mean of episode sensitivity and PPV) among those whose
median onset latency is at most 8 s and whose false AF time is at most 2.5 % of the non-AF time (a
monitor worn for days must stay quiet), ties broken by AF-time error (when no setting is that quiet,
the quietest wins); it also reports the best PPV any
setting reaches at the issue's episode sensitivity of 0.95, to show what that target costs. The
MIT-BIH AF records are never read here.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .episodes import merge_runs
from .smoothing import AFSmoothing, smoothed_decisions

#: candidate settings (every combination is scored)
GRID: dict[str, tuple] = {
    "smooth_windows": (1, 2, 3, 4),
    "af_threshold": (None, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),  # None: argmax
    "max_gap_windows": (0, 1, 2),
    "min_episode_windows": (1, 2, 3, 4),
}
#: what a chosen setting must reach on the validation streams (the issue's targets)
MIN_SENSITIVITY = 0.95
MAX_MEDIAN_LATENCY_S = 8.0
MAX_FALSE_AF_PCT = 2.5


@dataclass
class Stream:
    """Windows of validation records joined end to end: probabilities (n, K), quality flags (n,),
    reference AF flag (n,) and record id (n,) of each window."""

    probs: np.ndarray
    ok: np.ndarray
    af: np.ndarray
    record: np.ndarray


def stream_groups(record_ids: list[str], n_streams: int = 4, seed: int = 0) -> list[list[str]]:
    """The records of each validation stream, in stream order: ``record_ids`` (distinct) in a seeded
    random order, split into ``n_streams`` consecutive groups."""
    if not record_ids:
        raise ValueError("no validation windows to build streams from")
    order = np.random.default_rng(seed).permutation(len(record_ids))
    return [[record_ids[i] for i in g] for g in np.array_split(order, max(1, min(n_streams, len(record_ids))))]


def validation_streams(record: np.ndarray, y: np.ndarray, probs: np.ndarray, af_index: int, n_streams: int = 4,
                       seed: int = 0, ok: np.ndarray | None = None) -> list[Stream]:
    """Join the records of per-window arrays (``record`` ids, integer labels ``y``, ``probs``) into
    ``n_streams`` streams of records in a seeded random order (windows of a record stay in order;
    :func:`stream_groups`)."""
    record = np.asarray(record).astype(str)
    ok = np.ones(len(record), bool) if ok is None else np.asarray(ok, bool)
    ids = list(dict.fromkeys(record.tolist()))
    where = {rid: np.flatnonzero(record == rid) for rid in ids}
    out = []
    for g in stream_groups(ids, n_streams, seed):
        idx = np.concatenate([where[rid] for rid in g])
        out.append(Stream(np.asarray(probs)[idx], ok[idx], np.asarray(y)[idx] == af_index, record[idx]))
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    f = np.concatenate([[False], np.asarray(flags, bool), [False]])
    d = np.diff(f.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))


def score_stream(detected_af: np.ndarray, reference_af: np.ndarray, smoothing: AFSmoothing, hop_s: float) -> dict:
    """Episode counts and AF time of one stream: window-level AF decisions (bool; rejected windows
    False) merged by the episode rule against the reference runs. Overlap of any length counts."""
    labels = np.where(detected_af, "AF", "N")
    det = [(a, b) for _, a, b in merge_runs(labels.tolist(), "N", smoothing.max_gap_windows,
                                             smoothing.min_episode_windows)]
    ref = _runs(reference_af)
    det_mask = np.zeros(len(reference_af), bool)
    for a, b in det:
        det_mask[a:b + 1] = True
    tp_ref = sum(bool(det_mask[a:b + 1].any()) for a, b in ref)
    tp_det = sum(bool(np.asarray(reference_af)[a:b + 1].any()) for a, b in det)
    latencies = []
    for a, b in ref:
        hits = [max(da, a) for da, db in det if da <= b and db >= a]
        if hits:
            latencies.append((min(hits) - a + 1) * hop_s)  # alarm at the end of the first AF window's hop
    return {"n_reference": len(ref), "n_detected": len(det), "tp_reference": tp_ref, "tp_detected": tp_det,
            "latencies_s": latencies, "af_windows_detected": int(det_mask.sum()),
            "af_windows_reference": int(np.asarray(reference_af).sum()), "windows": len(reference_af),
            "false_af_windows": int((det_mask & ~np.asarray(reference_af, bool)).sum())}


def pooled_scores(rows: list[dict]) -> dict:
    """Episode Se / PPV, median latency, AF-time error (percentage points of the streams) and false AF
    time (percent of non-AF time) over streams."""
    def ratio(a: str, b: str) -> float:
        den = sum(r[b] for r in rows)
        return sum(r[a] for r in rows) / den if den else float("nan")

    lat = [v for r in rows for v in r["latencies_s"]]
    n = sum(r["windows"] for r in rows)
    non_af = n - sum(r["af_windows_reference"] for r in rows)
    return {"episode_sensitivity": ratio("tp_reference", "n_reference"),
            "episode_ppv": ratio("tp_detected", "n_detected"),
            "median_latency_s": float(np.median(lat)) if lat else float("nan"),
            "burden_error_pct": 100.0 * abs(sum(r["af_windows_detected"] - r["af_windows_reference"] for r in rows))
            / max(n, 1),
            "false_af_pct": 100.0 * sum(r["false_af_windows"] for r in rows) / max(non_af, 1)}


def evaluate_setting(streams: list[Stream], af_index: int, smoothing: AFSmoothing, hop_s: float) -> dict:
    rows = [score_stream(smoothed_decisions(s.probs, s.ok, af_index, smoothing) == af_index, s.af, smoothing, hop_s)
            for s in streams]
    return pooled_scores(rows)


def episode_f1(m: dict) -> float:
    """Harmonic mean of episode sensitivity and PPV (0 when either is 0 or undefined)."""
    se, ppv = m["episode_sensitivity"], m["episode_ppv"]
    if np.isnan(se) or np.isnan(ppv) or se + ppv == 0:
        return 0.0
    return float(2 * se * ppv / (se + ppv))


def _rank(m: dict) -> tuple:
    timely = not m["median_latency_s"] > MAX_MEDIAN_LATENCY_S  # NaN (no onset found) ranks as timely, F1 0
    quiet = m["false_af_pct"] <= MAX_FALSE_AF_PCT
    if timely and quiet:
        return (1, episode_f1(m), -m["burden_error_pct"])
    return (0, -m["false_af_pct"], episode_f1(m))


def choose_smoothing(streams: list[Stream], af_index: int, hop_s: float, grid: dict[str, tuple] | None = None
                     ) -> tuple[AFSmoothing, dict]:
    """The best setting of ``grid`` on ``streams`` (see the module docstring); returns it and the
    evidence (its scores, the number of settings tried, the rule)."""
    grid = grid or GRID
    keys = ("smooth_windows", "af_threshold", "max_gap_windows", "min_episode_windows")
    best, at_target = None, None
    trials = 0
    for values in itertools.product(*(grid[k] for k in keys)):
        sm = AFSmoothing(**dict(zip(keys, values)))
        m = evaluate_setting(streams, af_index, sm, hop_s)
        trials += 1
        key = _rank(m)
        if best is None or key > best[0]:
            best = (key, sm, m)
        if m["episode_sensitivity"] >= MIN_SENSITIVITY and (at_target is None or m["episode_ppv"] > at_target[1]["episode_ppv"]):
            at_target = (sm, m)
    _, sm, m = best
    base = evaluate_setting(streams, af_index, AFSmoothing(), hop_s)
    return sm, {"validation": {**m, "episode_f1": episode_f1(m)},
                "unsmoothed_validation": {**base, "episode_f1": episode_f1(base)}, "settings_tried": trials,
                "rule": f"median onset latency <= {MAX_MEDIAN_LATENCY_S} s and false AF time <= {MAX_FALSE_AF_PCT} % "
                        "of non-AF time, then highest episode F1, then lowest AF-time error",
                "best_at_sensitivity": None if at_target is None else
                {"min_sensitivity": MIN_SENSITIVITY, "smoothing": at_target[0].to_dict(), "validation": at_target[1]},
                "streams": len(streams), "stream_windows": [len(s.probs) for s in streams]}


#: seconds of stream the context model may decide on, chosen on the validation streams (CinC 2017
#: records: 9-61 s, most 30 s)
CONTEXT_GRID: tuple[float, ...] = (15.0, 30.0)


def fit_run_smoothing(run_dir, log=print, contexts: tuple[float, ...] = CONTEXT_GRID) -> AFSmoothing:
    """Choose and save (``RUN/af_smoothing.json``) the AF decisions of a cinc2017 run on its validation
    records: the best smoothing of the network's window probabilities
    (``RUN/evaluations/val/predictions.npz``, predicted first when missing) and, when the run has a
    record model and ``contexts`` is not empty, the best smoothing of the context model's
    probabilities for each context length (:mod:`.context_fit`, same streams); the best of them all by
    the same rule (:func:`choose_smoothing`) is kept."""
    from dataclasses import replace
    from pathlib import Path

    from ..runs import ModelSpec
    from ..training.evaluation import PREDICTIONS, load_predictions, window_predictions
    from ..training.record_model import has_record_model
    from .smoothing import save_smoothing

    run_dir = Path(run_dir)
    spec = ModelSpec.from_run(run_dir)
    if "A" not in spec.classes:
        raise ValueError(f"{run_dir}: AF smoothing needs a model with the CinC 2017 class 'A'")
    window_predictions(run_dir, "val", log=log)
    d = load_predictions(run_dir / "evaluations" / "val" / PREDICTIONS)
    af = spec.classes.index("A")
    hop_s = spec.window_s * (1.0 - spec.segment_overlap)
    sm, evidence = choose_smoothing(validation_streams(d["record"], d["y"], d["probs"], af, seed=0), af, hop_s)
    evidence = {**evidence, "decisions": "network"}
    alternatives = {"network": {"smoothing": sm.to_dict(), **evidence}}
    if contexts and has_record_model(run_dir):
        from .context_fit import validation_context_probs

        c = validation_context_probs(run_dir, tuple(contexts), seed=0, log=log)
        for ctx_s in contexts:
            sm_c, ev_c = choose_smoothing(validation_streams(c["record"], c["y"], c["probs"][ctx_s], af, seed=0),
                                          af, hop_s)
            sm_c = replace(sm_c, context_s=float(ctx_s))
            ev_c = {**ev_c, "decisions": f"context {ctx_s:g} s", "context_s": float(ctx_s), "context_note": c["note"]}
            alternatives[f"context {ctx_s:g} s"] = {"smoothing": sm_c.to_dict(), **ev_c}
            if _rank(ev_c["validation"]) > _rank(evidence["validation"]):
                sm, evidence = sm_c, ev_c
    save_smoothing(run_dir, sm, {**evidence, "alternatives": alternatives,
                                 "source": "validation records of the run (evaluations/val)"})
    v = evidence["validation"]
    log(f"{run_dir.name}: AF decisions from the {evidence['decisions']}, smoothing {sm.to_dict()} (validation "
        f"streams: episode Se {v['episode_sensitivity']:.3f}, PPV {v['episode_ppv']:.3f}, "
        f"false AF {v['false_af_pct']:.2f} %, median latency {v['median_latency_s']:.1f} s)")
    return sm
