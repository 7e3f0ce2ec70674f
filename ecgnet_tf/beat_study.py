"""The MIT-BIH beat study: choose settings inside DS1, train three seeds, score DS2 both ways, write the report.

    python -m ecgnet_tf.beat_study [--data-dir D] [--root runs/beat-study] [--out docs/results/mitdb]
                                   [--stages cv,final,report] [--candidates rr-under,...] [--seeds 0,1,2]
                                   [--cv-seeds 0,1,2]
                                   (``--stages cv,select``: compare the candidates inside DS1 only)

Stages (each training is one ``python -m ecgnet_tf.train`` process; a run whose ``metrics.json``
exists is reused, so an interrupted study resumes):

1. ``cv``: every candidate setting (model config x balancing) on patient-grouped 3-fold
   cross-validation **inside DS1** (``--split ds1-cv``); each fold's model predicts its held-out DS1
   records (out-of-fold predictions). DS2 is not read. ``--cv-seeds`` trains every fold with each
   seed (default one, seed 0): with several, the selection score is the mean over seeds and its
   spread says which differences between candidates are larger than the training noise.
2. ``select`` (optional, alone): ``OUT/selection.md`` and ``OUT/selection.json``, the comparison of
   the candidates inside DS1 without any final run (:func:`ecgnet_tf.bench.beat_report.write_selection`).
3. ``final``: the candidate with the best out-of-fold selection score (mean F1 of N, S and V) after
   its decision rule (``--class-merge``, ``--class-scale``) is fitted on those out-of-fold predictions
   (:func:`ecgnet_tf.training.tuning.fit_decision_rule`), with the linear feature head and its fusion
   weight when the selection chose one (:mod:`ecgnet_tf.training.feature_head`: logistic regression on
   the beat's RR and template rows, chosen on the same out-of-fold predictions; ``--no-feature-head``
   leaves it out) and, with ``--rhythm-gate``, the rhythm gate when the selection chose one
   (:mod:`ecgnet_tf.training.rhythm_gate`: no S beat while the recent rhythm is irregular, threshold
   chosen with the head's weight; an experiment, see ``docs/results/mitdb-rhythm-gate/``), trained on
   DS1 with each seed and evaluated
   on the strict DS2 (21 records, reference R peaks: the run's own metrics.json), on DS2 as published
   (22 records) and end to end (detected R peaks, EC57 beat-by-beat scoring). A final run trained
   under an earlier selection's rule keeps its network and is re-evaluated under the new rule and head.
4. ``report``: ``OUT/summary.json``, ``OUT/report.md``, ``OUT/beats.png`` and the runs' small files,
   all generated from the run folders (:mod:`ecgnet_tf.bench.beat_report`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli import add_data_dir_argument, run_command
from .data.errors import DataError
from .training.feature_head import FeatureHeadConfig
from .training.rhythm_gate import GateConfig
from .training.launch import train_in_subprocess

STAGES = ("cv", "select", "final", "report")
FOLDS = 3
#: candidate settings compared by cross-validation inside DS1 (train arguments)
CANDIDATES: dict[str, tuple[str, ...]] = {
    "rr-under": ("--config", "edge-rr", "--balance", "undersample"),
    "rrwn-under": ("--config", "edge-rr-wn", "--balance", "undersample"),
    "rr-smote": ("--config", "edge-rr", "--balance", "smote"),
    "rr-under-wce": ("--config", "edge-rr", "--balance", "undersample", "--loss", "weighted_ce"),
    # + the beat-template input (the beat's shape against the patient's previous beats)
    "rrt-under": ("--config", "edge-rrt", "--balance", "undersample"),
    "rrt-under-wce": ("--config", "edge-rrt", "--balance", "undersample", "--loss", "weighted_ce"),
    # the cells of the grid still empty with the template input: SMOTE (better than undersampling for
    # edge-rr), and a lower learning rate (the out-of-fold runs peaked at epochs 1-3 of 6)
    "rrt-smote": ("--config", "edge-rrt", "--balance", "smote"),
    "rrt-under-lr3e-4": ("--config", "edge-rrt", "--balance", "undersample", "--lr", "3e-4"),
    # + the recent rhythm's irregularity (a premature beat means less in an irregular rhythm such as AF)
    "rrtc-under": ("--config", "edge-rrtc", "--balance", "undersample"),
}
#: training schedule shared by every run of the study
SCHEDULE: tuple[str, ...] = ("--task", "mitdb-aami", "--epochs", "6", "--patience", "3", "--monitor", "val_macro_f1")
#: smoke version (tests, CI): capped windows, one epoch
QUICK: tuple[str, ...] = ("--quick", "--epochs", "1", "--max-per-record", "40", "--eval-max-per-record", "60")


def cv_name(candidate: str, fold: int, seed: int = 0) -> str:
    """``cv-CANDIDATE-fFOLD`` for seed 0 (the study's first runs keep their names), ``...-sSEED`` otherwise."""
    return f"cv-{candidate}-f{fold}" + (f"-s{seed}" if seed else "")


def final_name(seed: int) -> str:
    return f"final-s{seed}"


def train_run(root: Path, name: str, args: list[str], data_dir: Path, cache_dir: Path | None) -> Path:
    """Train ``root/name`` in its own process unless its metrics.json exists (resumes a checkpoint)."""
    argv = [*args, "--data-dir", str(data_dir), "--out", str(root / name)]
    if cache_dir:
        argv += ["--cache-dir", str(cache_dir)]
    return train_in_subprocess(name, argv, root / name, root / f"{name}.log", tag="beat-study")


def run_cv(root: Path, candidates: list[str], data_dir: Path, cache_dir: Path | None, quick: bool,
           folds: int = FOLDS, seeds: tuple[int, ...] = (0,)) -> None:
    base = [*SCHEDULE, *(QUICK if quick else ()), "--split", "ds1-cv", "--folds", str(folds)]
    for seed in seeds:  # every candidate's first seed before anyone's second: a stopped study compares like with like
        for cand in candidates:
            for fold in range(folds):
                train_run(root, cv_name(cand, fold, seed),
                          [*base, "--seed", str(seed), "--fold", str(fold), *CANDIDATES[cand]], data_dir, cache_dir)


def parse_seeds(text: str, flag: str) -> list[int]:
    """Comma-separated seeds (``flag`` names the option in the error)."""
    try:
        seeds = [int(s) for s in text.split(",") if s]
    except ValueError:
        raise ValueError(f"{flag} must be comma-separated integers, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"{flag} must name at least one seed, each once, got {text!r}")
    return seeds


def merge_argument(merge: list[int] | None, classes: list[str]) -> str | None:
    """The ``--class-merge`` text (``F:N``) of a selection's ``class_merge`` indices; None when nothing merges."""
    pairs = [f"{classes[i]}:{classes[d]}" for i, d in enumerate(merge or []) if d != i]
    return ",".join(pairs) or None


def redecide(run: Path, class_scale: list[float], class_merge: list[int] | None, data_dir: Path,
             cache_dir: Path | None) -> bool:
    """Give a trained final run the selected decision rule when it records another one; True if it did.

    The rule (class merge and scale) only reads the trained network's probabilities: training never
    uses it (``run.json`` records it for evaluation and export), so the trained model stays and
    the run's test figures are recomputed (its ``metrics.json``; the other evaluations are redone by
    :func:`run_final`)."""
    import dataclasses
    import shutil

    from .runs import RunConfig
    from .training.evaluation import evaluate_run

    cfg = RunConfig.load(run)
    scale = [float(v) for v in class_scale]
    merge = None if class_merge is None or all(d == i for i, d in enumerate(class_merge)) else list(class_merge)
    if cfg.class_scale == scale and cfg.class_merge == merge:
        return False
    print(f"[beat-study] {run.name}: decision rule {cfg.class_scale} / {cfg.class_merge} -> {scale} / {merge}; "
          "re-evaluating the trained model", flush=True)
    dataclasses.replace(cfg, class_scale=scale, class_merge=merge).save(run)
    (run / "metrics.json").unlink(missing_ok=True)
    shutil.rmtree(run / "evaluations", ignore_errors=True)
    evaluate_run(run, data_dir, cache_dir=cache_dir)
    return True


def candidate_mismatch(run: Path, candidate: str) -> list[str]:
    """How an existing run's settings differ from ``candidate``'s train arguments (config, balancing,
    loss, learning rate); empty when they agree or the run has no run.json yet."""
    from .runs import RunConfig

    if not (run / "run.json").is_file():
        return []
    cfg = RunConfig.load(run)
    args = dict(zip(CANDIDATES[candidate][::2], CANDIDATES[candidate][1::2]))
    want = {"config": args.get("--config", "edge"), "balance": args.get("--balance", "smote"),
            "loss": args.get("--loss", "focal"), "lr": float(args.get("--lr", 1e-3))}
    have = {"config": cfg.config, "balance": (cfg.balance or {}).get("mode", "smote"), "loss": cfg.loss,
            "lr": float(cfg.lr)}
    return [f"{k} {have[k]!r} (selection wants {want[k]!r})" for k in want if have[k] != want[k]]


def run_final(root: Path, selection: dict, seeds: list[int], data_dir: Path, cache_dir: Path | None,
              quick: bool) -> None:
    import shutil

    from .data.mitdb import available_records
    from .training.end_to_end import evaluate_end_to_end
    from .training.evaluation import ds2_records, evaluate_run
    from .training.feature_head import apply_feature_head

    scale = ",".join(repr(float(v)) for v in selection["class_scale"])  # exact: the run records these values
    merge = merge_argument(selection.get("class_merge"), selection["classes"])
    rule = ["--class-scale", scale, *(["--class-merge", merge] if merge else [])]
    for seed in seeds:
        stale = candidate_mismatch(root / final_name(seed), selection["candidate"])
        if stale:
            raise DataError(f"{root / final_name(seed)} was trained for another candidate ({'; '.join(stale)}): "
                            f"move it aside so the final stage trains {selection['candidate']!r}")
        run = train_run(root, final_name(seed), [*SCHEDULE, *(QUICK if quick else ()), "--seed", str(seed),
                                                 *CANDIDATES[selection["candidate"]], *rule],
                        data_dir, cache_dir)
        head_changed = apply_feature_head(run, selection.get("feature_head"), data_dir, cache_dir)
        if head_changed:
            print(f"[beat-study] {run.name}: feature head {selection.get('feature_head')}; its evaluations are "
                  "redone", flush=True)
            shutil.rmtree(run / "evaluations", ignore_errors=True)
        if not redecide(run, selection["class_scale"], selection.get("class_merge"), data_dir, cache_dir) \
                and head_changed:
            evaluate_run(run, data_dir, cache_dir=cache_dir)
        pub = run / "evaluations" / "ds2-published22"
        if not (pub / "metrics.json").is_file():
            evaluate_run(run, data_dir, ds2_records("published22", available_records(data_dir)), out_dir=pub,
                         cache_dir=cache_dir)
        e2e = run / "evaluations" / "end-to-end"
        if not (e2e / "metrics.json").is_file():
            evaluate_end_to_end(run, e2e, data_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet_tf.beat_study", description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--root", type=Path, default=Path("runs/beat-study"), help="run folders of the study")
    parser.add_argument("--out", type=Path, default=Path("docs/results/mitdb"), help="report folder")
    parser.add_argument("--stages", default="cv,final,report", help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--candidates", default=",".join(CANDIDATES),
                        help=f"settings compared inside DS1, of {', '.join(CANDIDATES)}")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the final models")
    parser.add_argument("--cv-seeds", default="0", help="training seeds of every cross-validation fold (default 0)")
    parser.add_argument("--folds", type=int, default=FOLDS, help=f"cross-validation folds inside DS1 (default {FOLDS})")
    parser.add_argument("--quick", action="store_true", help="smoke study (capped windows, one epoch): not a result")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--no-feature-head", action="store_true",
                        help="select without the linear feature head (the network alone)")
    parser.add_argument("--rhythm-gate", action="store_true",
                        help="let the selection also try the rhythm gate (no S beat while the recent rhythm is "
                             "irregular; an experiment that failed on DS2, docs/results/mitdb-rhythm-gate)")
    args = parser.parse_args(argv)

    def body() -> None:
        from .bench import beat_report
        from .cli import data_dir_of

        stages = [s for s in args.stages.split(",") if s]
        candidates = [c for c in args.candidates.split(",") if c]
        bad = [s for s in stages if s not in STAGES] + [c for c in candidates if c not in CANDIDATES]
        if bad:
            raise ValueError(f"unknown stages/candidates {bad}; stages: {', '.join(STAGES)}; "
                             f"candidates: {', '.join(CANDIDATES)}")
        seeds = parse_seeds(args.seeds, "--seeds")
        cv_seeds = parse_seeds(args.cv_seeds, "--cv-seeds")
        data_dir = data_dir_of(args)
        root = args.root
        root.mkdir(parents=True, exist_ok=True)
        if "cv" in stages:
            run_cv(root, candidates, data_dir, args.cache_dir, args.quick, args.folds, tuple(cv_seeds))
        if {"select", "final", "report"} & set(stages):
            folds = {c: [root / cv_name(c, f, s) for s in cv_seeds for f in range(args.folds)] for c in candidates}
            missing = [str(r) for runs in folds.values() for r in runs if not (r / "metrics.json").is_file()]
            if missing:
                raise DataError(f"cross-validation runs missing: {missing[:3]}...; run the cv stage first")
            head = None if args.no_feature_head else FeatureHeadConfig()
            gate = GateConfig() if args.rhythm_gate and not args.no_feature_head else None
            selection = beat_report.select_candidate(folds, head, data_dir, args.cache_dir, gate)
            (root / "selection.json").write_text(json.dumps(selection, indent=2))
            print(f"[beat-study] selected {selection['candidate']} with class scale {selection['class_scale']}, "
                  f"class merge {selection['class_merge']} "
                  f"(out-of-fold score {selection['score']:.4f})", flush=True)
        not_rerun = tuple(c for c in CANDIDATES if c not in candidates)
        if "select" in stages:
            path = beat_report.write_selection(args.out, selection, not_rerun)
            print(f"[beat-study] candidates compared inside DS1 -> {path}", flush=True)
        if "final" in stages:
            run_final(root, selection, seeds, data_dir, args.cache_dir, args.quick)
        if "report" in stages:
            finals = {s: root / final_name(s) for s in seeds}
            summary = beat_report.write_report(args.out, selection, finals, quick=args.quick,
                                               not_rerun=not_rerun)
            m = summary["mean"]
            print(f"[beat-study] strict DS2, mean of {len(seeds)} seeds: SVEB Se {m['S']['sensitivity']:.3f} "
                  f"+P {m['S']['ppv']:.3f}, VEB Se {m['V']['sensitivity']:.3f} +P {m['V']['ppv']:.3f}, "
                  f"accuracy {m['accuracy']:.3f} -> {args.out}/report.md")

    return run_command(body, (DataError, FileNotFoundError, ValueError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
