"""Run every experiment of the paper's tables and regenerate docs/RESULTS.md (never edited by hand).

    python -m ecgnet_tf.reproduce --profile {quick,full} [--data-dir D] [--only table1,ablation,...]

Each experiment is one ``python -m ecgnet_tf.train`` run in its own process, written to
``runs/reproduce-<profile>/<name>/``; a run whose ``metrics.json`` exists is reused, so an
interrupted reproduction resumes where it stopped. The Table 1 MIT-BIH model is also quantized to
int8 (``python -m export.quantize``) for the efficiency table. The figures go to
``docs/results/reproduce-<profile>.json`` (with the git commit, host and each run's arguments,
epochs and wall time), the runs' small files to ``docs/results/reproduce-<profile>/<run>/``, a
figure to ``docs/results/reproduce-<profile>.png``, and ``docs/RESULTS.md`` is rebuilt from every
profile's JSON. ``quick`` is a smoke profile (few epochs, capped windows, one seed) whose numbers
are labelled as such; ``full`` trains properly and fits in about 1.5 hours on 2 idle cores.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import results_report
from .claims import PAPER_CLAIMS, TASK_CLAIMS
from .datasets import summarise
from .cli import add_data_dir_argument
from .settings import resolve_data_dir
from .training.launch import train_in_subprocess

GROUPS = ("table1", "ablation", "loss", "lr", "hf", "finetune", "efficiency")
LADDER = ("baseline", "+multiscale", "+channel_att", "+spatial_att", "+guided", "+separable")


@dataclass(frozen=True)
class Experiment:
    """One training run: a name, the table it feeds and its ``ecgnet_tf.train`` arguments."""

    name: str
    group: str
    args: tuple[str, ...]
    depends: tuple[str, ...] = field(default_factory=tuple)  # runs that must exist first (init-from)


@dataclass(frozen=True)
class Profile:
    name: str
    base: tuple[str, ...]  # arguments every run gets
    mitdb_sweep: tuple[str, ...]  # extra arguments of the many MIT-BIH runs (ablation, loss, lr)
    epochs: int
    ablation_epochs: int
    seeds: tuple[int, ...]
    ptbxl_epochs: int | None = None  # PTB-XL runs are small: more epochs for the same time (default: epochs)
    export_args: tuple[str, ...] = ()  # extra arguments of the int8 export of the Table 1 MIT-BIH run


PROFILES = {
    "quick": Profile("quick", ("--quick",), ("--max-per-record", "40", "--eval-max-per-record", "60"),
                     epochs=2, ablation_epochs=1, seeds=(0,),
                     export_args=("--calibration", "100", "--max-eval", "300")),
    # full: table-1 runs train on every training record with the default balancing; the 12 MIT-BIH sweep
    # runs cap windows per record and balance to 4000 / 1500, 4 epochs each, so the whole profile fits in
    # about 1.5 hours on 2 idle cores. Every run is evaluated on its whole test set.
    "full": Profile("full", (), ("--max-per-record", "400", "--majority-cap", "4000", "--smote-target", "1500"),
                    epochs=10, ablation_epochs=4, seeds=(0,), ptbxl_epochs=20),
}


def experiments(profile: Profile) -> list[Experiment]:
    """The experiment list of a profile (names are stable: they are the run folders)."""
    e = str(profile.epochs)
    a = str(profile.ablation_epochs)
    ep = str(profile.ptbxl_epochs or profile.epochs)
    out = [Experiment(f"t1-{t}-s{s}", "table1",
                      ("--task", t, "--config", "edge", "--epochs", ep if t.startswith("ptbxl") else e,
                       "--seed", str(s)))
           for t in ("mitdb-aami", "ptbxl-mi", "ptbxl-mi-loc", "cinc2017") for s in profile.seeds]
    sweep = ("--task", "mitdb-aami", "--epochs", a, *profile.mitdb_sweep)
    out += [Experiment(f"abl-{c.replace('+', 'p-')}", "ablation", (*sweep, "--config", c)) for c in LADDER]
    out += [Experiment(f"loss-{loss}", "loss", (*sweep, "--loss", loss)) for loss in ("focal", "ce", "weighted_ce")]
    out += [Experiment(f"lr-{lr}", "lr", (*sweep, "--lr", lr)) for lr in ("1e-4", "1e-3", "1e-2")]
    out += [Experiment("eff-paper", "efficiency", (*sweep, "--config", "paper"))]
    out += [Experiment(f"hf-{band}", "hf", ("--task", "ptbxl-mi", "--band", band, "--epochs", ep))
            for band in ("hf", "conventional")]
    src = f"t1-mitdb-aami-s{profile.seeds[0]}"
    out += [Experiment("ft-cinc2017-10pct-scratch", "finetune",
                       ("--task", "cinc2017", "--train-fraction", "0.1", "--epochs", e)),
            Experiment("ft-cinc2017-10pct-from-mitdb", "finetune",
                       ("--task", "cinc2017", "--train-fraction", "0.1", "--epochs", e, "--init-from", f"@{src}"),
                       depends=(src,))]
    return out


def train_config(exp: Experiment, profile: Profile, root: Path, data_dir: Path, cache_dir: Path | None):
    """The :class:`~ecgnet_tf.training.fit.TrainConfig` of one experiment (argument typos fail here, before
    any run starts)."""
    from .train import build_parser
    from .training.fit import TrainConfig

    args = [a if not a.startswith("@") else str(root / a[1:]) for a in exp.args]
    argv = [*profile.base, *args, "--data-dir", str(data_dir), "--out", str(root / exp.name)]
    if cache_dir:
        argv += ["--cache-dir", str(cache_dir)]
    return TrainConfig.from_namespace(build_parser().parse_args(argv))


def run_experiment(exp: Experiment, profile: Profile, root: Path, data_dir: Path, cache_dir: Path | None) -> None:
    """Train ``exp`` in its own process (a fresh TensorFlow per run) unless its metrics.json exists."""
    out = root / exp.name
    if (out / "metrics.json").is_file():
        return
    cfg = train_config(exp, profile, root, data_dir, cache_dir)
    train_in_subprocess(f"experiment {exp.name}", cfg.to_argv(), out, out / "train.log", tag="reproduce")


def export_int8(run_dir: Path, out_dir: Path, profile: Profile, data_dir: Path, cache_dir: Path | None) -> dict:
    """Quantize a finished run to int8 with ``python -m export.quantize`` (once) and return its report."""
    report = out_dir / "model_int8.json"
    if not report.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "ecgnet_tf.export.quantize", str(run_dir), "--mode", "int8",
               "--out", str(out_dir / "model_int8.tflite"), "--data-dir", str(data_dir),
               *profile.export_args] + (["--cache-dir", str(cache_dir)] if cache_dir else [])
        print(f"[reproduce] int8 export of {run_dir.name}: {' '.join(cmd[1:])}", flush=True)
        with open(out_dir / "export.log", "a") as log:
            res = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise RuntimeError(f"int8 export failed (exit {res.returncode}); see {out_dir / 'export.log'}")
    return json.loads(report.read_text())


def _model_costs(configs: tuple[str, ...], runs: int) -> dict:
    from .model_report import measure

    return measure(configs, runs=runs, warmup=3, n_classes=5, tflite=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.reproduce", description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=tuple(PROFILES))
    add_data_dir_argument(p)
    p.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups of {GROUPS}")
    p.add_argument("--runs-root", type=Path, default=None, help="default runs/reproduce-<profile>")
    p.add_argument("--docs", type=Path, default=Path("docs"), help="where RESULTS.md and results/ go")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--latency-runs", type=int, default=10)
    p.add_argument("--publish", default=None, metavar="NAMES",
                   help="instead of the tables: publish the pretrained models (comma-separated of beats, rhythm) "
                        "into ecgnet_tf/pretrained/ from the accuracy studies' reference runs, and the sample "
                        "recording")
    p.add_argument("--publish-run", action="append", default=[], metavar="NAME=RUN",
                   help="publish NAME from this run folder instead of its reference run")
    p.add_argument("--page-only", action="store_true",
                   help="only rebuild RESULTS.md from the existing docs/results/reproduce-<profile>.json (no runs)")
    args = p.parse_args(argv)
    if args.publish:
        return _publish(args)
    if args.page_only:
        return _write_page(args.docs)
    profile = PROFILES[args.profile]
    data_dir = resolve_data_dir(args.data_dir)
    root = args.runs_root or Path("runs") / f"reproduce-{profile.name}"
    groups = set(args.only.split(","))
    unknown = groups - set(GROUPS)
    if unknown:
        print(f"error: unknown groups {sorted(unknown)}; choose from {GROUPS}", file=sys.stderr)
        return 2
    # --only picks what runs; the report covers every finished run of the profile, so a partial
    # rerun never drops figures that are already there
    exps = experiments(profile)
    results = args.docs / "results"
    out_json = results / f"reproduce-{profile.name}.json"
    previous = json.loads(out_json.read_text()) if out_json.is_file() else {}
    src = root / f"t1-mitdb-aami-s{profile.seeds[0]}"
    int8 = None
    for exp in exps:  # every selected run's settings are checked before the first one starts
        if exp.group in groups:
            train_config(exp, profile, root, data_dir, args.cache_dir)
    try:
        for exp in exps:
            if exp.group in groups:
                run_experiment(exp, profile, root, data_dir, args.cache_dir)
        if (src / "metrics.json").is_file() and ("efficiency" in groups or (root / "export-int8").is_dir()):
            int8 = export_int8(src, root / "export-int8", profile, data_dir, args.cache_dir)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "ablation" in groups or "efficiency" in groups:
        costs = _model_costs(tuple(LADDER) + ("edge", "paper"), args.latency_runs)
    else:
        costs = previous.get("efficiency", {})  # model costs do not depend on the runs
    published = f"reproduce-{profile.name}"
    for exp in exps:
        if (root / exp.name / "metrics.json").is_file():
            results_report.publish_run(root / exp.name, results / published / exp.name)
    report = results_report.collect(profile.name, root, exps, summarise(data_dir), costs, int8, PAPER_CLAIMS,
                                    TASK_CLAIMS, published)
    if results_report.figure(report, results / f"reproduce-{profile.name}.png"):
        report["figure"] = f"reproduce-{profile.name}.png"
    results.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(report, indent=2))
    _write_page(args.docs)
    print(f"wrote {results / f'reproduce-{profile.name}.json'}")
    return 0


def _write_page(docs: Path) -> int:
    """RESULTS.md from every profile's results JSON under ``docs/results``."""
    reports = [json.loads(f.read_text()) for f in sorted((docs / "results").glob("reproduce-*.json"))]
    reports = [r for r in reports if "runs" in r]  # results JSON of an older layout: rerun that profile
    (docs / "RESULTS.md").write_text(results_report.results_page(reports))
    print(f"wrote {docs / 'RESULTS.md'}")
    return 0


def _publish(args) -> int:
    from .cli import run_command
    from .export.publish import publish_references
    from .export.quantize import quantize_run

    def body() -> None:
        runs = {}
        for item in args.publish_run:
            name, _, run = item.partition("=")
            if not run:
                raise ValueError(f"--publish-run wants NAME=RUN, got {item!r}")
            runs[name] = Path(run)
        folders = publish_references([n for n in args.publish.split(",") if n], args.docs,
                                     resolve_data_dir(args.data_dir), quantize_run, runs, cache_dir=args.cache_dir,
                                     log=lambda m: print(f"[publish] {m}", flush=True))
        print("published " + ", ".join(str(f) for f in folders))

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
