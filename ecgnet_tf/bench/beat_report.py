"""The MIT-BIH beat study's selection and report, computed from run folders only (nothing typed in).

:func:`select_candidate` pools the out-of-fold predictions of the cross-validation inside DS1, fits
each candidate's class priors and picks the best; :func:`write_report` gathers the final runs'
reference-peak (strict and published DS2) and end-to-end figures into ``summary.json``, ``report.md``
and ``beats.png``. See ``python -m ecgnet_tf.beat_study``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .. import atomic
from ..claims import BEAT_TARGETS, PUBLISHED_BEAT_BASELINES
from ..results_report import git_state, publish_run, run_facts
from ..runs import RunConfig, load_split
from ..tasks import get_task
from ..training.evaluation import PREDICTIONS, load_predictions
from ..training.feature_head import (FeatureHeadConfig, beat_windows_rows, fit_run_head, fuse, head_features,
                                     network_rr_width)
from ..training.rhythm_gate import GateConfig, gate_probs
from ..training.tuning import (SCORED_CLASSES, beat_figures, fit_decision_rule, merged_probs, scaled_predictions,
                               selection_score)

FIGURES = (("S", "sensitivity"), ("S", "ppv"), ("V", "sensitivity"), ("V", "ppv"))
CRITERION = ("mean F1 of N, S and V beats over the pooled out-of-fold predictions (cross-validation inside DS1); "
             "F, which that score does not weigh, either kept with its factor set by accuracy on the same "
             "predictions or merged into N, S or V, whichever scores best (training.tuning.fit_decision_rule)")


def _history_best(run: Path) -> dict:
    """Epochs run and the best epoch (1-based, by the run's monitor) of a run folder."""
    facts = run_facts(run)
    return {k: facts[k] for k in ("epochs_run", "best_epoch", "monitor")}


def select_candidate(folds: dict[str, list[Path]], feature_head: FeatureHeadConfig | None = None,
                     data_dir: Path | None = None, cache_dir: Path | None = None,
                     gate: GateConfig | None = None) -> dict:
    """Pool each candidate's out-of-fold predictions, fit its class scale, choose the best candidate.

    ``folds``: candidate name -> its cross-validation run folders (``--split ds1-cv``), one set of
    folds per training seed when the study ran several (``--cv-seeds``). The decision rule is fitted
    on every seed's predictions together; the score is the mean over seeds of each seed's score with
    that rule (``score_seeds``, ``score_std``: how much the choice can trust a difference). Raises
    ValueError if a run is not a DS1 cross-validation run (the selection must never see DS2) or if
    the seeds' folds do not hold the same records.

    With ``feature_head``, candidates whose model has the "rr" input are also scored with the linear
    feature head (:mod:`ecgnet_tf.training.feature_head`): each fold's head is fitted on that fold's
    training and validation records (DS1, never its test records) and fused with the fold's
    out-of-fold probabilities at every weight of ``feature_head.weights``; the weight whose score
    (decision rule refitted on the fused predictions) is highest becomes the candidate's setting
    (``w = 0``, the network alone, is one of them). With ``gate`` too, every weight is also tried
    with a rhythm gate at each of ``gate.thresholds`` (:mod:`ecgnet_tf.training.rhythm_gate`, on the
    out-of-fold beats' own recent-rhythm column) and without one; weight and gate are chosen
    together. Windows are read from ``data_dir`` / ``cache_dir``.
    """
    report: dict = {}
    memo: dict = {}
    classes: tuple[str, ...] = ()
    for cand, runs in folds.items():
        ys, ps, tests, facts, seed_of, head_lp, gate_v = [], [], [], [], [], [], []
        for run in runs:
            split = load_split(run)
            if not split.name.startswith("ds1-cv"):
                raise ValueError(f"{run}: split {split.name!r} is not cross-validation inside DS1")
            cfg = RunConfig.load(run)
            classes = tuple(get_task(cfg.task).classes)
            pred = load_predictions(run / PREDICTIONS)
            ys.append(pred["y"])
            ps.append(pred["probs"])
            seed_of.append(np.full(len(pred["y"]), int(cfg.seed)))
            tests.append(list(split.test))
            facts.append({"run": run.name, "config": cfg.config, "balance": (cfg.balance or {}).get("mode", "smote"),
                          "seed": int(cfg.seed), **_history_best(run)})
            if feature_head is not None and cfg.model_config.get("rr_features", 0):
                head, n_rows = fit_run_head(run, data_dir, cache_dir, feature_head, memo)
                rr_te, morph_te, y_te = beat_windows_rows(run, list(split.test), data_dir, cache_dir,
                                                          cfg.eval_max_per_record, memo)
                if not np.array_equal(y_te, pred["y"]):
                    raise ValueError(f"{run}: its test windows and predictions.npz disagree; evaluate the run again")
                head_lp.append(head.log_probs(head_features(rr_te, morph_te, network_rr_width(run))))
                if gate is not None:
                    gate_v.append(rr_te[:, gate.column_index])
                facts[-1]["head_rows"] = n_rows
        seeds = sorted({f["seed"] for f in facts})
        covered = {s: sorted(r for f, t in zip(facts, tests) if f["seed"] == s for r in t) for s in seeds}
        if any(v != covered[seeds[0]] for v in covered.values()):
            raise ValueError(f"{cand}: the seeds' folds hold different records: "
                             + "; ".join(f"seed {s}: {len(v)} records" for s, v in covered.items()))
        y, p, seed = np.concatenate(ys), np.concatenate(ps).astype(np.float64), np.concatenate(seed_of)
        raw_pred = p.argmax(axis=1)
        rule, decided, per_seed = _fit_rule(y, p, seed, seeds, classes)
        mean, std = _mean_std(list(per_seed.values()))
        report[cand] = {"folds": facts, "test_records": tests, "n_beats": int(len(y)), "seeds": seeds,
                        "raw": beat_figures(y, raw_pred, classes), "score_raw": selection_score(y, raw_pred, classes),
                        "class_scale": list(rule.scale),
                        "class_merge": None if rule.merge is None else list(rule.merge),
                        "rule_options": rule.options,
                        "score": mean, "score_std": std, "score_seeds": {str(s): v for s, v in per_seed.items()},
                        "tuned": beat_figures(y, decided, classes)}
        if head_lp:
            report[cand].update(_with_feature_head(report[cand], y, p, np.concatenate(head_lp), seed, seeds,
                                                   classes, feature_head, gate,
                                                   np.concatenate(gate_v) if gate_v else None))
    if not report:
        raise ValueError("no candidates to select from")
    best = max(report, key=lambda c: (report[c]["score"], -list(report).index(c)))
    return {"candidate": best, "class_scale": report[best]["class_scale"],
            "class_merge": report[best]["class_merge"], "score": report[best]["score"],
            "feature_head": report[best].get("feature_head_setting"),
            "criterion": CRITERION, "scored_classes": list(SCORED_CLASSES), "classes": list(classes),
            "candidates": report}


def _fit_rule(y: np.ndarray, p: np.ndarray, seed: np.ndarray, seeds: list[int], classes: tuple[str, ...]):
    """(decision rule fitted on all seeds' predictions ``p``, its decisions, each seed's selection score)."""
    rule = fit_decision_rule(y, p, classes)
    decided = scaled_predictions(merged_probs(p, rule.merge), np.asarray(rule.scale))
    return rule, decided, {s: selection_score(y[seed == s], decided[seed == s], classes) for s in seeds}


def _with_feature_head(cand: dict, y: np.ndarray, p: np.ndarray, head_lp: np.ndarray, seed: np.ndarray,
                       seeds: list[int], classes: tuple[str, ...], config: FeatureHeadConfig,
                       gate: GateConfig | None = None, gate_values: np.ndarray | None = None) -> dict:
    """A candidate's fields with the feature head at its best weight, and the rhythm gate at its best
    threshold when ``gate`` is given (the network's own figures kept under ``network``): score, rule
    and figures of that choice, and every weight's score (best over the gate settings) and every
    (weight, gate) score."""
    thresholds: tuple[float | None, ...] = (None,) + (tuple(gate.thresholds) if gate is not None else ())
    by_choice = {}
    for w in config.weights:
        fused = fuse(p, head_lp, w)
        for t in thresholds:
            q = fused if t is None else gate_probs(fused, gate_values, t, classes.index(gate.gated_class))
            rule, decided, per_seed = _fit_rule(y, q, seed, seeds, classes)
            mean, std = _mean_std(list(per_seed.values()))
            by_choice[(float(w), t)] = {
                "score": mean, "score_std": std, "score_seeds": {str(s): v for s, v in per_seed.items()},
                "class_scale": list(rule.scale), "class_merge": None if rule.merge is None else list(rule.merge),
                "rule_options": rule.options, "tuned": beat_figures(y, decided, classes)}
    # best score; ties: no gate, then the smaller weight
    best_w, best_t = max(by_choice, key=lambda k: (by_choice[k]["score"], k[1] is None, -k[0]))
    network = {k: cand[k] for k in ("score", "score_std", "score_seeds", "class_scale", "class_merge",
                                    "rule_options", "tuned")}
    setting = None
    if best_w > 0.0 or best_t is not None:
        setting = {"weight": best_w, "config": config.to_dict(),
                   "gate": None if best_t is None else gate.setting(best_t, classes)}
    out = {**by_choice[(best_w, best_t)], "network": network,
           "feature_head_scores": {str(w): max(v["score"] for (w2, _), v in by_choice.items() if w2 == float(w))
                                   for w in config.weights},
           "feature_head_config": config.to_dict(),
           "feature_head_setting": setting}
    if gate is not None:
        out["gate_config"] = gate.to_dict()
        out["gate_scores"] = {str(w): {("none" if t is None else str(t)): by_choice[(float(w), t)]["score"]
                                       for t in thresholds} for w in config.weights}
        out["gate_threshold"] = best_t
    return out


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def _figures(m: dict, source: str) -> dict:
    """S/V sensitivity, ppv (and fpr end to end) and accuracy of one metrics.json."""
    if source == "end_to_end":
        e = m["end_to_end"]
        return {"S": {k: e["S"][k] for k in ("sensitivity", "ppv", "fpr")},
                "V": {k: e["V"][k] for k in ("sensitivity", "ppv", "fpr")}, "accuracy": e["accuracy"],
                "matched": e["matched"], "missed": e["missed"], "extra": e["extra"]}
    pc = m["per_class"]
    return {"S": {k: pc["S"][k] for k in ("sensitivity", "ppv")}, "V": {k: pc["V"][k] for k in ("sensitivity", "ppv")},
            "accuracy": m["accuracy"], "n": m["n"], "n_records": m.get("n_records")}


def _aggregate(rows: list[dict]) -> tuple[dict, dict]:
    mean: dict = {}
    std: dict = {}
    for cls in ("S", "V"):
        keys = rows[0][cls].keys()
        pairs = {k: _mean_std([r[cls][k] for r in rows]) for k in keys}
        mean[cls] = {k: v[0] for k, v in pairs.items()}
        std[cls] = {k: v[1] for k, v in pairs.items()}
    mean["accuracy"], std["accuracy"] = _mean_std([r["accuracy"] for r in rows])
    return mean, std


def _confusion(run: Path, classes: tuple[str, ...]) -> np.ndarray:
    """Reference-peak confusion (rows true, columns decided) of a run's own test evaluation."""
    pred = load_predictions(run / PREDICTIONS)
    cfg = RunConfig.load(run)
    scale = np.asarray(cfg.class_scale if cfg.class_scale else np.ones(len(classes)))
    merge = tuple(cfg.class_merge) if cfg.class_merge else None
    decided = scaled_predictions(merged_probs(pred["probs"], merge), scale)
    conf = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(conf, (pred["y"].astype(int), decided), 1)
    return conf


def summarise(selection: dict, finals: dict[int, Path], quick: bool = False, not_rerun: tuple[str, ...] = ()) -> dict:
    """The study's summary: means and std over seeds for each mode, targets and gaps, the selection.
    ``not_rerun``: the study's candidates left out of this selection (named in the report)."""
    seeds = sorted(finals)
    per_seed, published, e2e = [], [], []
    classes: tuple[str, ...] = tuple(selection["classes"])
    conf = np.zeros((len(classes), len(classes)), np.int64)
    e2e_conf = None
    for s in seeds:
        run = finals[s]
        m = json.loads((run / "metrics.json").read_text())
        if m.get("ds2_variant") != "strict21":
            raise ValueError(f"{run}: its test set is not the strict DS2 (ds2_variant {m.get('ds2_variant')!r})")
        per_seed.append({"seed": s, **_figures(m, "reference"), **_history_best(run)})
        published.append(_figures(json.loads((run / "evaluations/ds2-published22/metrics.json").read_text()),
                                  "reference"))
        em = json.loads((run / "evaluations/end-to-end/metrics.json").read_text())
        e2e.append(_figures(em, "end_to_end"))
        conf += _confusion(run, classes)
        c = np.asarray(em["end_to_end"]["confusion"], np.int64)
        e2e_conf = c if e2e_conf is None else e2e_conf + c
    mean, std = _aggregate(per_seed)
    pub_mean, pub_std = _aggregate(published)
    e2e_mean, e2e_std = _aggregate(e2e)
    t = BEAT_TARGETS
    target_of = {"S": {"sensitivity": t["S_sensitivity"], "ppv": t["S_ppv"]},
                 "V": {"sensitivity": t["V_sensitivity"], "ppv": t["V_ppv"]}, "accuracy": t["accuracy"]}
    gaps = {c: {k: mean[c][k] - target_of[c][k] for k in ("sensitivity", "ppv")} for c in ("S", "V")}
    gaps["accuracy"] = mean["accuracy"] - target_of["accuracy"]
    e2e_minus = {c: {k: e2e_mean[c][k] - mean[c][k] for k in ("sensitivity", "ppv")} for c in ("S", "V")}
    e2e_minus["accuracy"] = e2e_mean["accuracy"] - mean["accuracy"]
    met = {f"{c}_{k}": bool(gaps[c][k] >= 0) for c, k in FIGURES}
    met["accuracy"] = bool(gaps["accuracy"] >= 0)
    met["end_to_end_within"] = bool(all(abs(e2e_minus[c][k]) <= t["end_to_end_within"] for c, k in FIGURES)
                                    and abs(e2e_minus["accuracy"]) <= t["end_to_end_within"])
    first = RunConfig.load(finals[seeds[0]])
    return {"ds2_variant": "strict21", "profile": "quick" if quick else "full", "seeds": seeds,
            "mean": mean, "std": std, "per_seed": per_seed,
            "published22": {"ds2_variant": "published22", "mean": pub_mean, "std": pub_std},
            "end_to_end": {"mean": e2e_mean, "std": e2e_std, "per_seed": e2e,
                           "confusion": e2e_conf.tolist() if e2e_conf is not None else None},
            "confusion_reference": {"classes": list(classes), "counts": conf.tolist(),
                                    "note": "summed over seeds; rows reference, columns decided"},
            "targets": target_of, "gaps": gaps, "end_to_end_minus_reference": e2e_minus, "met": met,
            "model": {"config": first.config, "balance": (first.balance or {}).get("mode", "smote"),
                      "class_scale": first.class_scale, "class_merge": first.class_merge, "epochs": first.epochs,
                      "monitor": first.monitor,
                      "feature_head": None if first.feature_head is None else
                      {k: first.feature_head.get(k) for k in ("weight", "config", "n_rows", "gate")}},
            "selection": selection, "not_rerun": list(not_rerun), "git": git_state()}


def _head_text(head: dict | None) -> str:
    """The model line's words on the feature head (none: the network alone)."""
    if not head:
        return ", no feature head (the network alone)"
    text = ", no feature head" if not head["weight"] else (
        f", fused with the linear feature head at w = {head['weight']:g} (logistic regression on each beat's RR "
        f"and template rows, C = {head['config']['c']:g}, fitted on the {head['n_rows']} DS1 training and "
        "validation beats of each seed's run; `ecgnet_tf.training.feature_head`)")
    return text + _gate_text(head.get("gate"))


def _gate_text(gate: dict | None) -> str:
    if not gate:
        return ""
    from ..tasks.inputs import BEAT_RR_NAMES

    return (f", then the rhythm gate: no S beat where the recent rhythm's `{BEAT_RR_NAMES[gate['column']]}` "
            f"exceeds {gate['threshold']:g} (`ecgnet_tf.training.rhythm_gate`)")


def merge_text(merge: list[int] | None, classes: list[str] | tuple[str, ...]) -> str:
    """``[0, 1, 2, 0, 4]`` -> "F->N"; "keep" when nothing is merged."""
    if not merge:
        return "keep"
    pairs = [f"{classes[i]}->{classes[d]}" for i, d in enumerate(merge) if d != i]
    return ", ".join(pairs) if pairs else "keep"


def _f(v, scale: float = 100.0, digits: int = 1) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{scale * v:.{digits}f}"


def _ms(mean: float, std: float) -> str:
    return f"{_f(mean)} ± {_f(std)}"


def _score_text(c: dict) -> str:
    """A candidate's score with its rule: "0.700", or "0.700 ± 0.050 (3 seeds)" when several seeds ran."""
    n = len(c.get("seeds", [0]))
    if n < 2:
        return _f(c["score"], 1, 3)
    return f"{_f(c['score'], 1, 3)} ± {_f(c['score_std'], 1, 3)} ({n} seeds)"


def candidate_section(sel: dict, not_rerun: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Markdown lines of the cross-validation section: every candidate's out-of-fold figures, the
    candidates left out of this selection, and what the rrtc candidates add."""
    first = next(iter(sel["candidates"].values()))
    n_seeds = max(len(c.get("seeds", [0])) for c in sel["candidates"].values())
    n_folds = len(first["folds"]) // max(1, len(first.get("seeds", [0])))
    seeds_text = f", {n_seeds} training seeds per fold" if n_seeds > 1 else ""
    lines = ["", f"## What was tried (cross-validation inside DS1, {n_folds} patient-grouped folds{seeds_text}, "
                 "out-of-fold)", "",
              f"Selection: {sel['criterion']}, after fitting each candidate's decision rule on the same predictions. "
              f"Chosen: **{sel['candidate']}**."
              + (" With several seeds, the rule is fitted on every seed's predictions together and the score is "
                 "the mean ± standard deviation over seeds of each seed's score; the figures after the rule pool "
                 "every seed." if n_seeds > 1 else ""), "",
              "| candidate | config | balancing | score raw | score with rule | F | class scale | SVEB Se / +P "
              "(rule) | VEB Se / +P (rule) | accuracy (rule) | best epochs (1-based) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, c in sel["candidates"].items():
        tu = c["tuned"]
        f0 = c["folds"][0]
        lines.append(f"| {name} | {f0['config']} | {f0['balance']} | {_f(c['score_raw'], 1, 3)} | "
                     f"{_score_text(c)} | {merge_text(c.get('class_merge'), sel['classes'])} | "
                     f"{', '.join(f'{v:g}' for v in c['class_scale'])} | "
                     f"{_f(tu['S']['sensitivity'])} / {_f(tu['S']['ppv'])} | {_f(tu['V']['sensitivity'])} / "
                     f"{_f(tu['V']['ppv'])} | {_f(tu['accuracy'])} | "
                     f"{', '.join(str(f['best_epoch']) for f in c['folds'])} |")
    heads = {n: c for n, c in sel["candidates"].items() if "feature_head_scores" in c}
    if heads:
        lines += ["", "Feature head (`ecgnet_tf.training.feature_head`): a class-balanced logistic regression on each "
                  "beat's RR-interval and beat-template rows (the model's own `rr` and `morph` inputs), fitted on each "
                  "fold's training and validation records (a class holding less than "
                  f"{next(iter(heads.values())).get('feature_head_config', {}).get('min_class_share', 0):.1%} of "
                  "those rows is left out of the head), fused with the network as P = softmax((1 - w) log "
                  "P_network + w log P_head); the decision rule is refitted for every w, and the w with the best "
                  "score is the candidate's (w = 0 is the network alone). The table above shows each candidate at "
                  "its chosen w.", "",
                  "| candidate | " + " | ".join(f"w = {w}" for w in next(iter(heads.values()))["feature_head_scores"])
                  + " | chosen w |",
                  "|---|" + "---|" * (len(next(iter(heads.values()))["feature_head_scores"]) + 1)]
        for name, c in heads.items():
            setting = c.get("feature_head_setting")
            lines.append(f"| {name} | " + " | ".join(_f(v, 1, 3) for v in c["feature_head_scores"].values())
                         + f" | {setting['weight'] if setting else 0} |")
    gated = {n: c for n, c in heads.items() if "gate_scores" in c}
    if gated:
        first = next(iter(gated.values()))
        cols = list(next(iter(first["gate_scores"].values())))
        lines += ["", "Rhythm gate (`ecgnet_tf.training.rhythm_gate`): no S beat while the recent rhythm is irregular "
                  f"(the beat's `{first['gate_config']['column']}` above a threshold: mean absolute difference of the "
                  "previous beats' successive RR intervals over their mean, causal). In atrial fibrillation every "
                  "beat is early against the last ones and AAMI labels those beats N. Tried with every w (weight and "
                  "threshold chosen together, the rule refitted for each); the w table above gives each w's best. "
                  "Out-of-fold score:", "",
                  "| candidate | w | " + " | ".join("no gate" if t == "none" else f"> {t}" for t in cols) + " |",
                  "|---|---|" + "---|" * len(cols)]
        for name, c in gated.items():
            for w, row in c["gate_scores"].items():
                lines.append(f"| {name} | {w} | " + " | ".join(_f(row[t], 1, 3) for t in cols) + " |")
            t = c.get("gate_threshold")
            lines.append("")
            lines.append(f"Chosen for {name}: w = {(c.get('feature_head_setting') or {}).get('weight', 0)}, "
                         + ("no gate." if t is None else f"gate above {t:g}."))
    if not_rerun:
        lines += ["", "Candidates of the study not in this selection (`--candidates` left them out; their earlier "
                  "out-of-fold figures are in the git history of the study's report, `git log -p docs/results/mitdb/report.md`): "
                  + ", ".join(f"`{c}`" for c in not_rerun) + "."]
    if any(c.startswith("rrtc") for c in sel["candidates"]):
        lines += ["", "Candidates `rrtc-*` add the recent rhythm's irregularity to the rhythm input (`edge-rrtc`: "
                  "coefficient of variation and mean successive difference of the previous 10 pre-RR intervals over "
                  "their mean, `ecgnet_tf.preprocess.rr_context`): a premature beat means less when the beats before "
                  "it were irregular already (atrial fibrillation)."]
    return lines


def markdown(s: dict) -> str:
    """report.md: a pure function of the summary."""
    m, sd, t = s["mean"], s["std"], s["targets"]
    sel = s["selection"]
    lines = ["# MIT-BIH beat classes, inter-patient (DS1 -> DS2)", "",
             "Generated by `python -m ecgnet_tf.beat_study` from the run folders; do not edit."
             + (" **Smoke profile (`--quick`): not a result.**" if s["profile"] == "quick" else ""), "",
             f"Model: `{s['model']['config']}`, balancing `{s['model']['balance']}`, class scale "
             f"{s['model']['class_scale']} (classes {', '.join(sel['classes'])}), class merge "
             f"{merge_text(s['model'].get('class_merge'), sel['classes'])}, seeds {s['seeds']}, up to "
             f"{s['model']['epochs']} epochs, best epoch by `{s['model']['monitor']}` on validation records carved "
             "from DS1" + _head_text(s["model"].get("feature_head")) + ". Every choice (settings, feature head weight, "
             "class merge and scale) was made by cross-validation inside DS1; DS2 was read only to report.", "",
             f"## Strict DS2 ({s['per_seed'][0]['n_records']} records, reference R peaks): the figures the targets use", "",
             "Percent, mean ± std over seeds.", "",
             "| figure | measured | target | gap |", "|---|---|---|---|"]
    for c, k in FIGURES:
        name = f"{'SVEB' if c == 'S' else 'VEB'} {'Se' if k == 'sensitivity' else '+P'}"
        lines.append(f"| {name} | {_ms(m[c][k], sd[c][k])} | {_f(t[c][k])} | {_f(s['gaps'][c][k])} |")
    lines.append(f"| accuracy | {_ms(m['accuracy'], sd['accuracy'])} | {_f(t['accuracy'])} | "
                 f"{_f(s['gaps']['accuracy'])} |")
    e, esd, pub = s["end_to_end"]["mean"], s["end_to_end"]["std"], s["published22"]
    lines += ["", "## All modes", "",
              "| mode | SVEB Se | SVEB +P | VEB Se | VEB +P | accuracy |", "|---|---|---|---|---|---|",
              "| reference peaks, strict DS2 | " + " | ".join(_ms(m[c][k], sd[c][k]) for c, k in FIGURES)
              + f" | {_ms(m['accuracy'], sd['accuracy'])} |",
              "| end to end (Pan-Tompkins, EC57 bxb, gross), strict DS2 | "
              + " | ".join(_ms(e[c][k], esd[c][k]) for c, k in FIGURES) + f" | {_ms(e['accuracy'], esd['accuracy'])} |",
              "| reference peaks, DS2 as published (with 202; literature comparison only) | "
              + " | ".join(_ms(pub["mean"][c][k], pub["std"][c][k]) for c, k in FIGURES)
              + f" | {_ms(pub['mean']['accuracy'], pub['std']['accuracy'])} |",
              "", "End to end minus reference (points): " + ", ".join(
                  f"{'SVEB' if c == 'S' else 'VEB'} {'Se' if k == 'sensitivity' else '+P'} "
                  f"{_f(s['end_to_end_minus_reference'][c][k])}" for c, k in FIGURES)
              + f", accuracy {_f(s['end_to_end_minus_reference']['accuracy'])}; end-to-end accuracy is over matched "
              f"beats. End-to-end VEB FPR {_f(e['V']['fpr'], digits=2)} %, SVEB FPR {_f(e['S']['fpr'], digits=2)} %.",
              "", "Targets met: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in s["met"].items()) + ".",
              "", "## Per seed (strict DS2, reference peaks)", "",
              "| seed | SVEB Se | SVEB +P | VEB Se | VEB +P | accuracy | epochs run | best epoch (1-based) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in s["per_seed"]:
        lines.append(f"| {r['seed']} | " + " | ".join(_f(r[c][k]) for c, k in FIGURES)
                     + f" | {_f(r['accuracy'])} | {r['epochs_run']} | {r['best_epoch']} |")
    conf = s["confusion_reference"]
    cls = conf["classes"]
    lines += ["", "## Confusion matrices", "", "Reference peaks, strict DS2, summed over seeds (rows reference, "
              "columns decided):", "", "| | " + " | ".join(cls) + " |", "|---" * (len(cls) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(cls, conf["counts"])]
    if s["end_to_end"]["confusion"] is not None:
        ecls = cls + ["-"]
        lines += ["", "End to end, summed over seeds ('-' = no beat: missed reference beats in the last column, "
                  "extra detections in the last row):", "", "| | " + " | ".join(ecls) + " |",
                  "|---" * (len(ecls) + 1) + "|"]
        lines += [f"| {c} | " + " | ".join(str(v) for v in row) + " |"
                  for c, row in zip(ecls, s["end_to_end"]["confusion"])]
    lines += candidate_section(sel, s.get("not_rerun", ()))
    lines += ["", "Candidates `rrt-*` add the beat-template input (`edge-rrt`: each beat's shape against the median "
              "of the patient's previous 32 beats, `ecgnet_tf.preprocess.template_features`). History of the "
              "protocol, said plainly: the step that sets the F factor by out-of-fold accuracy "
              "(`training.tuning.fit_unscored_scale`) was added after a first final run of the selected candidate "
              "decided F for about a sixth of DS2's N beats; its value comes from the DS1 out-of-fold predictions "
              "only, where F decisions were almost all wrong too (DS1's F beats come from one or two patients). "
              "Later, reading DS2's errors showed that most N beats decided V had most of their probability on F "
              "(F's factor lowered, the decision fell to V); the option to merge F's probability into N, S or V "
              "(`training.tuning.fit_decision_rule`) was added then. Which option is used, and the S and V factors "
              "that go with it, are chosen on the DS1 out-of-fold predictions only, where merging F into N also "
              "scores best (the table's F column); DS2 prompted the option, it did not choose it."]
    lines += ["", "## Published inter-patient results (as published, DS2 with 22 records; not ours)", "",
              "| method | SVEB Se | SVEB +P | VEB Se | VEB +P |", "|---|---|---|---|---|"]
    for b in PUBLISHED_BEAT_BASELINES:
        if b["S_se"] is None:
            lines.append(f"| {b['method']} | F1 {b['S_f1']} | | F1 {b['V_f1']} | |")
        else:
            lines.append(f"| {b['method']} | {b['S_se']} | {b['S_ppv']} | {b['V_se']} | {b['V_ppv']} |")
    lines += ["", "![beats](beats.png)", "",
              f"Code: commit {s['git']['commit']}" + (" (with uncommitted changes)" if s["git"]["dirty"] else "") + "."]
    return "\n".join(lines) + "\n"


def figure(s: dict, path: Path) -> None:
    """beats.png: SVEB/VEB Se and +P and accuracy per mode (mean ± std over seeds) against the targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["SVEB Se", "SVEB +P", "VEB Se", "VEB +P", "accuracy"]
    modes = [("reference, strict DS2", s["mean"], s["std"]),
             ("end to end, strict DS2", s["end_to_end"]["mean"], s["end_to_end"]["std"]),
             ("reference, DS2 as published", s["published22"]["mean"], s["published22"]["std"])]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (label, m, sd) in enumerate(modes):
        vals = [m[c][k] for c, k in FIGURES] + [m["accuracy"]]
        errs = [sd[c][k] for c, k in FIGURES] + [sd["accuracy"]]
        ax.bar(x + (i - 1) * 0.27, vals, 0.27, yerr=errs, label=label, capsize=2)
    t = s["targets"]
    targets = [t[c][k] for c, k in FIGURES] + [t["accuracy"]]
    ax.scatter(x, targets, marker="_", s=600, color="black", zorder=5, label="target")
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction")
    ax.set_title(f"MIT-BIH inter-patient, {s['model']['config']}, seeds {s['seeds']}"
                 + (" (smoke)" if s["profile"] == "quick" else ""))
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_selection(out: Path, selection: dict, not_rerun: tuple[str, ...] = ()) -> Path:
    """Write ``out``/selection.json and ``out``/selection.md (the cross-validation inside DS1 alone,
    before any final run): the comparison of candidates, with no DS2 figure."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    g = git_state()
    atomic.write_json(out / "selection.json", {**selection, "not_rerun": list(not_rerun), "git": g})
    lines = ["# MIT-BIH beat classes: candidates compared inside DS1", "",
             "Generated by `python -m ecgnet_tf.beat_study --stages cv,select` from the cross-validation run "
             "folders; do not edit. Only DS1 records are read (patient-grouped folds); DS2 is not."]
    lines += candidate_section(selection, not_rerun)
    lines += ["", f"Code: commit {g['commit']}" + (" (with uncommitted changes)" if g["dirty"] else "") + "."]
    atomic.write_text(out / "selection.md", "\n".join(lines) + "\n")
    return out / "selection.md"


def write_report(out: Path, selection: dict, finals: dict[int, Path], quick: bool = False,
                 not_rerun: tuple[str, ...] = ()) -> dict:
    """Write ``out``/summary.json, report.md, beats.png and the final runs' small files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = summarise(selection, finals, quick, not_rerun)
    atomic.write_json(out / "summary.json", s)
    atomic.write_text(out / "report.md", markdown(s))
    figure(s, out / "beats.png")
    for seed, run in finals.items():
        dest = out / "runs" / run.name
        publish_run(run, dest)
        for sub in ("ds2-published22", "end-to-end"):
            src = run / "evaluations" / sub
            if (src / "metrics.json").is_file():
                publish_run(src, dest / sub)
    return s
