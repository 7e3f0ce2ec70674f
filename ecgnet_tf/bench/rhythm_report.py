"""The CinC 2017 rhythm study's report, computed from the fold run folders only (nothing typed in).

:func:`summarise` reads each fold's network figures (``RUN/metrics.json``) and record-model figures
(``RUN/record_model/metrics.json`` and its predictions), checks that the test folds are disjoint,
and gives per-fold rows, mean ± std over folds, the pooled confusion matrix and the gaps to the
issue's targets. :func:`write_report` writes ``summary.json``, ``report.md`` and ``cinc2017.png``.
See ``python -m ecgnet_tf.rhythm_study``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .. import atomic
from ..claims import PUBLISHED_RHYTHM_BASELINES, RHYTHM_TARGETS
from ..results_report import git_state, publish_run, run_facts
from ..runs import RunConfig, load_split
from ..tasks import get_task
from ..preprocess.record_features import RECORD_FEATURE_NAMES
from ..training.record_model import RECORD_MODEL_DIR

SCORED = ("N", "A", "O")


def _mean_std(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def _load(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the rhythm study's earlier stages first")
    return json.loads(path.read_text())


def check_folds(runs: list[Path]) -> dict:
    """Every run is a cinc2017 k-fold run with the same records; test folds are disjoint and each
    run's train / val / test parts are disjoint. Returns record counts; raises ValueError otherwise."""
    seen: dict[str, str] = {}
    all_ids: set[str] | None = None
    for run in runs:
        cfg = RunConfig.load(run)
        if cfg.task != "cinc2017":
            raise ValueError(f"{run}: task {cfg.task!r}, not cinc2017")
        split = load_split(run)
        parts = [set(split.partition(p)) for p in ("train", "val", "test")]
        if parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]:
            raise ValueError(f"{run}: a record is in two of train / validation / test")
        ids = set().union(*parts)
        if all_ids is None:
            all_ids = ids
        elif ids != all_ids:
            raise ValueError(f"{run}: its folds cover other records than {runs[0]}")
        for rid in parts[2]:
            if rid in seen:
                raise ValueError(f"record {rid} is a test record of both {seen[rid]} and {run}")
            seen[rid] = str(run)
    return {"n_records": len(all_ids or ()), "n_test_records": len(seen)}


def _fold_row(run: Path) -> dict:
    net = _load(run / "metrics.json")
    rec = _load(run / RECORD_MODEL_DIR / "metrics.json")
    cfg = RunConfig.load(run)
    return {
        "run": run.name, "fold": cfg.fold, "n_records": rec["n_records"],
        "challenge_f1": rec["challenge_f1"], "A_f1": rec["per_class"]["A"]["f1"],
        "per_class": {c: {k: rec["per_class"][c][k] for k in ("f1", "sensitivity", "ppv", "support")}
                      for c in rec["per_class"]},
        "accuracy": rec["accuracy"],
        "network_alone": net.get("network_alone") or {   # set when evaluate already applied the record model
            "challenge_f1": net["challenge_f1"], "per_class_f1": {c: net["per_class"][c]["f1"] for c in net["per_class"]}},
        "trees_alone_challenge_f1": rec.get("trees_alone", {}).get("challenge_f1"),
        "record_model": {"feature_set": rec.get("selection", {}).get("chosen", {}).get("feature_set"),
                         "trees": rec.get("selection", {}).get("chosen"),
                         "fusion_used": bool((rec.get("selection", {}).get("fusion") or {}).get("used", False))},
        "network_training": run_facts(run),
    }


def _confusion(run: Path, k: int) -> np.ndarray:
    with np.load(run / RECORD_MODEL_DIR / "predictions.npz") as z:
        y, p = z["y"], z["probs"]
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y, p.argmax(1)), 1)
    return cm


def _f1_from_cm(cm: np.ndarray, i: int) -> float:
    tp, fp, fn = cm[i, i], cm[:, i].sum() - cm[i, i], cm[i, :].sum() - cm[i, i]
    return float(2 * tp / (2 * tp + fp + fn)) if (2 * tp + fp + fn) else float("nan")


MONITOR_VARIANTS = ("cinc2017-edge-rhythm", "cinc2017-edge-rhythm-network-smoothing", "cinc2017-edge-rhythm-unsmoothed")
RULE_BASELINE = "rr-rule-baseline"


def _monitor(monitor_dir: Path | None, runs: list[Path]) -> dict | None:
    """The monitor stage's AF benchmarks (overall figures) and the reference run's smoothing, if present."""
    if monitor_dir is None:
        return None
    monitor_dir = Path(monitor_dir)
    out: dict = {}
    for name in (*MONITOR_VARIANTS, RULE_BASELINE):
        for suffix in ("", "-non-af"):
            f = monitor_dir / f"{name}{suffix}" / "af_benchmark.json"
            if f.is_file():
                d = json.loads(f.read_text())
                out[f"{name}{suffix}"] = {"overall": d["overall"], "smoothing": d.get("smoothing"),
                                          "records": [r["record"] for r in d["per_record"]], "model": d["model"]}
    sm = Path(runs[0]) / "af_smoothing.json"
    if sm.is_file():
        out["reference_run_smoothing"] = json.loads(sm.read_text())
    return out or None


#: prefix of a run's record-model experiment folders (``RUN/record_model-<name>/``, rhythm_study's variants stage)
VARIANT_PREFIX = RECORD_MODEL_DIR + "-"


def _experiments(runs: list[Path]) -> list[dict]:
    """The record model and every experiment variant fitted in all folds: mean validation F1 of the
    chosen settings (what decides), mean test F1(N,A,O) and A F1 (reported, never used to decide)."""
    names = sorted({d.name[len(VARIANT_PREFIX):] for r in runs for d in Path(r).glob(VARIANT_PREFIX + "*")
                    if (d / "metrics.json").is_file()})
    out = []
    for name, folder in (("record model (the study's decision)", RECORD_MODEL_DIR),
                         *((n, VARIANT_PREFIX + n) for n in names)):
        ms = [Path(r) / folder / "metrics.json" for r in runs]
        if not all(m.is_file() for m in ms):
            continue
        rows = [json.loads(m.read_text()) for m in ms]
        cfg = rows[0].get("selection", {}).get("config", {})
        out.append({"name": name, "folder": folder,
                    "val_f1": _mean_std([r["selection"]["chosen"]["val_f1"] for r in rows])[0],
                    "challenge_f1": _mean_std([r["challenge_f1"] for r in rows])[0],
                    "A_f1": _mean_std([r["per_class"]["A"]["f1"] for r in rows])[0],
                    "n_features": len(cfg.get("feature_names") or ()) or len(RECORD_FEATURE_NAMES),
                    "class_weights": cfg.get("class_weights")})
    return out


def summarise(runs: list[Path], quick: bool = False, monitor_dir: Path | None = None) -> dict:
    """Summary of a finished rhythm study (see the module docstring)."""
    runs = [Path(r) for r in runs]
    counts = check_folds(runs)
    classes = get_task("cinc2017").classes
    rows = [_fold_row(r) for r in runs]
    cm = sum((_confusion(r, len(classes)) for r in runs), np.zeros((len(classes),) * 2, np.int64))
    mean, std = {}, {}
    for key, get in (("challenge_f1", lambda r: r["challenge_f1"]), ("A_f1", lambda r: r["A_f1"]),
                     ("accuracy", lambda r: r["accuracy"]),
                     *((f"{c}_f1", (lambda c: lambda r: r["per_class"][c]["f1"])(c)) for c in classes)):
        mean[key], std[key] = _mean_std([get(r) for r in rows])
    net_mean, net_std = {}, {}
    for key, get in (("challenge_f1", lambda r: r["network_alone"]["challenge_f1"]),
                     ("A_f1", lambda r: r["network_alone"]["per_class_f1"]["A"])):
        net_mean[key], net_std[key] = _mean_std([get(r) for r in rows])
    pooled = {c: _f1_from_cm(cm, i) for i, c in enumerate(classes)}
    pooled["challenge_f1"] = float(np.mean([pooled[c] for c in SCORED]))
    targets = {k: {"target": v, "measured": mean[k], "met": bool(mean[k] >= v), "gap": mean[k] - v}
               for k, v in RHYTHM_TARGETS.items()}
    first = RunConfig.load(runs[0])
    return {
        "task": "cinc2017", "profile": "quick" if quick else first.profile, "folds": rows,
        "mean": mean, "std": std, "pooled": pooled, "confusion": {"classes": list(classes), "matrix": cm.tolist()},
        "network_alone": {"mean": net_mean, "std": net_std}, "targets": targets,
        "published": list(PUBLISHED_RHYTHM_BASELINES), **counts,
        "network_config": first.config, "data_dir": first.data_dir, "git": git_state(),
        "monitor": _monitor(monitor_dir, runs),
        "experiments": _experiments(runs),
    }


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def markdown(s: dict) -> str:
    m, sd = s["mean"], s["std"]
    lines = [
        f"# CinC 2017 rhythm classification: {len(s['folds'])}-fold cross-validation" + (" (SMOKE RUN, not a result)" if
                                                                        s["profile"] == "quick" else ""),
        "",
        "Generated by `python -m ecgnet_tf.rhythm_study` from the run folders; do not edit.",
        f"Records: {s['n_records']} labelled CinC 2017 records (the shared copy), each a test record of exactly one "
        f"fold; folds stratified by class and grouped by patient. Per fold: the network ({s['network_config']}) "
        "trained on three folds with early stopping on the fourth (validation); the record model's trees fitted on "
        "the training folds, their settings and the fusion with the network chosen on the validation fold, then "
        "refitted on training + validation; one score on the test fold.",
        "",
        "## Mean ± std over folds (record level, natural class mix)",
        "",
        "| figure | record model | network alone | target |",
        "|---|---|---|---|",
        f"| F1(N, A, O) (challenge score) | **{_f(m['challenge_f1'])} ± {_f(sd['challenge_f1'])}** | "
        f"{_f(s['network_alone']['mean']['challenge_f1'])} ± {_f(s['network_alone']['std']['challenge_f1'])} | "
        f"{_f(s['targets']['challenge_f1']['target'], 2)} ({'met' if s['targets']['challenge_f1']['met'] else 'missed by ' + _f(-s['targets']['challenge_f1']['gap'])}) |",
        f"| A F1 | **{_f(m['A_f1'])} ± {_f(sd['A_f1'])}** | {_f(s['network_alone']['mean']['A_f1'])} ± "
        f"{_f(s['network_alone']['std']['A_f1'])} | {_f(s['targets']['A_f1']['target'], 2)} "
        f"({'met' if s['targets']['A_f1']['met'] else 'missed by ' + _f(-s['targets']['A_f1']['gap'])}) |",
        f"| N F1 | {_f(m['N_f1'])} ± {_f(sd['N_f1'])} | | |",
        f"| O F1 | {_f(m['O_f1'])} ± {_f(sd['O_f1'])} | | |",
        f"| ~ (noisy) F1 | {_f(m['~_f1'])} ± {_f(sd['~_f1'])} | | |",
        f"| accuracy | {_f(m['accuracy'])} ± {_f(sd['accuracy'])} | | |",
        "",
        f"Pooled over all test records: F1(N, A, O) {_f(s['pooled']['challenge_f1'])}, A F1 {_f(s['pooled']['A'])}.",
        "",
        "## Per fold",
        "",
        "| fold | test records | F1(N,A,O) | A F1 | N F1 | O F1 | ~ F1 | network alone | trees alone | features | fusion | "
        "network epochs (best) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s["folds"]:
        pc = r["per_class"]
        nt = r["network_training"]
        lines.append(
            f"| {r['fold']} | {r['n_records']} | {_f(r['challenge_f1'])} | {_f(pc['A']['f1'])} | {_f(pc['N']['f1'])} | "
            f"{_f(pc['O']['f1'])} | {_f(pc['~']['f1'])} | {_f(r['network_alone']['challenge_f1'])} | "
            f"{_f(r['trees_alone_challenge_f1'])} | {r['record_model']['feature_set']} | "
            f"{'yes' if r['record_model']['fusion_used'] else 'no'} | {nt.get('epochs_run')} ({nt.get('best_epoch')}) |")
    cls = s["confusion"]["classes"]
    lines += ["", "## Pooled confusion matrix (rows: reference, columns: decision)", "",
              "| | " + " | ".join(cls) + " |", "|---" * (len(cls) + 1) + "|"]
    for c, row in zip(cls, s["confusion"]["matrix"]):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    if s.get("experiments"):
        lines += ["", "## Record-model experiments (same folds; chosen by validation F1, test figures reported only)", "",
                  "| record model | whole-record features | tree class weights | mean validation F1(N,A,O) | "
                  "mean test F1(N,A,O) | mean test A F1 |", "|---|---|---|---|---|---|"]
        for e in s["experiments"]:
            lines.append(f"| {e['name']} | {e['n_features']} | "
                         f"{', '.join(str(w) for w in (e['class_weights'] or [None]))} | {_f(e['val_f1'])} | "
                         f"{_f(e['challenge_f1'])} | {_f(e['A_f1'])} |")
    lines += ["", "## Published figures (claims to compare against, not our results; other data)", "",
              "| method | evaluation | F1(N, A, O) |", "|---|---|---|"]
    for p in s["published"]:
        lines.append(f"| {p['method']} | {p['evaluation']} | {_f(p['challenge_f1'], 2)} |")
    if s.get("monitor"):
        lines += _monitor_lines(s["monitor"])
    lines += ["", "Our figures are cross-validated on the 5,115 shared records (60% of the training set); the "
              "published ones use the hidden test set or all 8,528 training records.", "",
              "## Reading it", "",
              "- *record model*: the project's record-level decision (trees on whole-record features, fused with the "
              "network's window outputs when that won on validation). *network alone*: the network's window softmax "
              "averaged per record. *trees alone*: the record model without the fusion.",
              f"- Commit: `{(s.get('git') or {}).get('commit')}`."]
    return "\n".join(lines) + "\n"


def _decided_by(sm: dict | None) -> str:
    """How the reference run's monitor decides AF (from its af_smoothing.json)."""
    ctx = (sm or {}).get("smoothing", {}).get("context_s")
    if ctx:
        return f"record model on the last {ctx:g} s + validated smoothing"
    return "network + validated smoothing"


def _monitor_lines(mon: dict) -> list[str]:
    lines = ["", "## AF episodes in the streaming monitor (MIT-BIH, out of distribution)", "",
             "The monitor cuts the stream into the network's 10-s windows (fold 0). Each quality-passed window is "
             "decided either by the network's probabilities or by the run's record model applied to the last 15 or "
             "30 s of the stream ending with the window (`ecgnet_tf.monitor.context`: the record model treats that "
             "stretch as a record), then smoothed. Which of the two, and the smoothing, were chosen on that run's "
             "CinC validation records only (`ecgnet_tf.monitor.smoothing_fit`: validation records joined into "
             "streams); the MIT-BIH records are a test.", "",
             "Said plainly: scoring the context model on validation streams whose contexts span record boundaries "
             "replaced a first version that scored each validation record alone. I made the change after that "
             "version's MIT-BIH onsets came about 23 s late, which showed that per-record scoring flatters "
             "latency. The choice is still made on the validation streams only, and every figure here comes "
             "from the corrected version.", ""]
    sm = mon.get("reference_run_smoothing")
    if sm:
        v, u = sm["validation"], sm["unsmoothed_validation"]
        lines += [f"Chosen: decisions from the **{sm.get('decisions', 'network')}**, smoothing `{sm['smoothing']}` "
                  f"({sm['rule']}). On the validation streams: episode Se "
                  f"{_f(v['episode_sensitivity'])}, PPV {_f(v['episode_ppv'])}, false AF {_f(v['false_af_pct'], 2)} % "
                  f"(the same probabilities, each window alone: Se {_f(u['episode_sensitivity'])}, PPV {_f(u['episode_ppv'])}, false AF "
                  f"{_f(u['false_af_pct'], 2)} %).", ""]
        alts = sm.get("alternatives") or {}
        if len(alts) > 1:
            lines += ["| validation streams (CinC, fold 0) | chosen smoothing | episode Se | episode PPV | false AF % "
                      "| median latency s |", "|---|---|---|---|---|---|"]
            for name, a in alts.items():
                av = a["validation"]
                lines.append(f"| {name} | `{a['smoothing']}` | {_f(av['episode_sensitivity'])} | "
                             f"{_f(av['episode_ppv'])} | {_f(av['false_af_pct'], 2)} | {_f(av['median_latency_s'], 1)} |")
            note = next((a.get("context_note") for a in alts.values() if a.get("context_note")), None)
            lines += ["", f"Context model on the validation records: {note}." if note else "", ""]
        bt = sm.get("best_at_sensitivity")
        if bt:
            lines += [f"Reaching episode Se {bt['min_sensitivity']} on the validation streams would cost PPV "
                      f"{_f(bt['validation']['episode_ppv'])} and {_f(bt['validation']['false_af_pct'], 1)} % false AF "
                      f"time (`{bt['smoothing']}`).", ""]
    lines += ["| decisions | AF records: episode Se | episode PPV | median onset latency s | mean burden error (points) "
              "| false AF min / h on records without AF |", "|---|---|---|---|---|---|"]
    for name, label in (("cinc2017-edge-rhythm", _decided_by(sm)),
                        ("cinc2017-edge-rhythm-network-smoothing", "network + its own validated smoothing"),
                        ("cinc2017-edge-rhythm-unsmoothed", "network, each window alone"),
                        (RULE_BASELINE, "model-free RR rule (baseline)")):
        a, n = mon.get(name), mon.get(f"{name}-non-af")
        if a is None:
            continue
        o = a["overall"]
        false_rate = (_f(n["overall"]["af_minutes_detected"] / n["overall"]["hours"], 2)
                      if n and n["overall"].get("hours") else "n/a")
        lines.append(f"| {label} | {_f(o['episode_sensitivity'])} | {_f(o['episode_ppv'])} | "
                     f"{_f(o['median_onset_latency_s'], 1)} | {_f(o['mean_abs_burden_error_pct'], 1)} | {false_rate} |")
    lines += ["", "Targets (issue): episode PPV >= 0.90 at Se >= 0.95, mean burden error <= 5 points, median latency "
              "<= 8 s, and better than the RR rule on PPV and burden error."]
    return lines


def figure(s: dict, path: Path) -> None:
    """cinc2017.png: per-fold challenge F1 (network alone vs record model) and the pooled confusion matrix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    folds = [r["fold"] for r in s["folds"]]
    x = np.arange(len(folds))
    a1.bar(x - 0.2, [r["network_alone"]["challenge_f1"] for r in s["folds"]], 0.4, label="network alone")
    a1.bar(x + 0.2, [r["challenge_f1"] for r in s["folds"]], 0.4, label="record model")
    a1.axhline(s["targets"]["challenge_f1"]["target"], color="black", ls="--", lw=1, label="target")
    a1.set_xticks(x, [f"fold {f}" for f in folds])
    a1.set_ylim(0, 1)
    a1.set_ylabel("F1(N, A, O)")
    a1.legend(fontsize=8, loc="lower right")
    a1.set_title("CinC 2017, test fold of each run" + (" (smoke)" if s["profile"] == "quick" else ""))
    cm = np.asarray(s["confusion"]["matrix"], np.float64)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    a2.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    cls = s["confusion"]["classes"]
    for i in range(len(cls)):
        for j in range(len(cls)):
            a2.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    a2.set_xticks(range(len(cls)), cls)
    a2.set_yticks(range(len(cls)), cls)
    a2.set_xlabel("decision")
    a2.set_ylabel("reference")
    a2.set_title("pooled confusion (record model)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out: Path, runs: list[Path], quick: bool = False, monitor_dir: Path | None = None) -> dict:
    """Write ``out``/summary.json, report.md, cinc2017.png and each fold's small files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = summarise(runs, quick, monitor_dir)
    atomic.write_json(out / "summary.json", s)
    atomic.write_text(out / "report.md", markdown(s))
    figure(s, out / "cinc2017.png")
    for run in runs:
        dest = out / "runs" / Path(run).name
        publish_run(run, dest)
        publish_run(Path(run) / RECORD_MODEL_DIR, dest / RECORD_MODEL_DIR)
        manifest = Path(run) / RECORD_MODEL_DIR / "manifest.json"
        if manifest.is_file():
            atomic.write_text(dest / RECORD_MODEL_DIR / "manifest.json", manifest.read_text())
        smoothing = Path(run) / "af_smoothing.json"
        if smoothing.is_file():
            atomic.write_text(dest / "af_smoothing.json", smoothing.read_text())
    return s
