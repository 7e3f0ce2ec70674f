"""Run every experiment of the paper's tables and regenerate docs/RESULTS.md (never edited by hand).

    python -m ecgnet_tf.reproduce --profile {quick,full} [--data-dir D] [--only table1,ablation,...]

Each experiment is one ``python -m ecgnet_tf.train`` run in its own process, written to
``runs/reproduce-<profile>/<name>/``; a run whose ``metrics.json`` exists is reused, so an
interrupted ``full`` reproduction resumes where it stopped. The collected figures go to
``docs/results/reproduce-<profile>.json`` and ``docs/RESULTS.md``. ``quick`` is a smoke profile (few
epochs, capped windows, one seed) whose numbers are labelled as such; ``full`` trains properly.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .claims import PAPER_CLAIMS, TASK_CLAIMS
from .settings import add_data_dir_argument, resolve_data_dir

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


PROFILES = {
    "quick": Profile("quick", ("--quick",), ("--max-per-record", "40", "--eval-max-per-record", "60"),
                     epochs=2, ablation_epochs=1, seeds=(0,)),
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
                      ("--task", t, "--config", "edge", "--epochs", ep if t.startswith("ptbxl") else e, "--seed", str(s)))
           for t in ("mitdb-aami", "ptbxl-mi", "ptbxl-mi-loc", "cinc2017") for s in profile.seeds]
    sweep = ("--task", "mitdb-aami", "--epochs", a, *profile.mitdb_sweep)
    out += [Experiment(f"abl-{c.replace('+', 'p-')}", "ablation", (*sweep, "--config", c)) for c in LADDER]
    out += [Experiment(f"loss-{loss}", "loss", (*sweep, "--loss", loss)) for loss in ("focal", "ce", "weighted_ce")]
    out += [Experiment(f"lr-{lr}", "lr", (*sweep, "--lr", lr)) for lr in ("1e-4", "1e-3", "1e-2")]
    out += [Experiment(f"hf-{band}", "hf", ("--task", "ptbxl-mi", "--band", band, "--epochs", ep))
            for band in ("hf", "conventional")]
    src = f"t1-mitdb-aami-s{profile.seeds[0]}"
    out += [Experiment("ft-cinc2017-10pct-scratch", "finetune",
                       ("--task", "cinc2017", "--train-fraction", "0.1", "--epochs", e)),
            Experiment("ft-cinc2017-10pct-from-mitdb", "finetune",
                       ("--task", "cinc2017", "--train-fraction", "0.1", "--epochs", e, "--init-from", f"@{src}"),
                       depends=(src,))]
    return out


def run_experiment(exp: Experiment, profile: Profile, root: Path, data_dir: Path, cache_dir: Path | None) -> dict:
    """Train ``exp`` in a subprocess unless its metrics exist; return its metrics."""
    out = root / exp.name
    metrics = out / "metrics.json"
    if not metrics.is_file():
        args = [a if not a.startswith("@") else str(root / a[1:]) for a in exp.args]
        cmd = [sys.executable, "-m", "ecgnet_tf.train", *profile.base, *args, "--data-dir", str(data_dir),
               "--out", str(out)] + (["--cache-dir", str(cache_dir)] if cache_dir else [])
        if (out / "checkpoints" / "state.json").is_file():
            cmd.append("--resume")
        print(f"[reproduce] {exp.name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.time()
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "train.log", "a") as log:
            res = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise RuntimeError(f"experiment {exp.name} failed (exit {res.returncode}); see {out / 'train.log'}")
        print(f"[reproduce] {exp.name}: done in {time.time() - t0:.0f} s", flush=True)
    return json.loads(metrics.read_text())


def _summary(m: dict) -> dict:
    mac = m["macro"]
    row = {"accuracy": m["accuracy"], "sensitivity": mac["sensitivity"], "specificity": mac["specificity"],
           "f1": mac["f1"], "auroc": mac["auroc"], "n": m["n"], "level": m["level"]}
    if "challenge_score" in m:
        row["challenge_score"] = m["challenge_score"]
    return row


def _model_costs(configs: tuple[str, ...], runs: int) -> dict:
    from .model_report import measure

    return measure(configs, runs=runs, warmup=3, n_classes=5, tflite=False)["configs"]


def collect(profile: Profile, root: Path, results: dict[str, dict], costs: dict, data_dir: Path) -> dict:
    """Assemble the tables from run metrics and model costs."""
    from .datasets import summarise

    table1 = {}
    for t in ("mitdb-aami", "ptbxl-mi", "ptbxl-mi-loc", "cinc2017"):
        rows = [results[n] for n in results if n.startswith(f"t1-{t}-s")]
        if rows:
            table1[t] = {"runs": [_summary(r) for r in rows], "per_class": rows[0]["per_class"],
                         "claims": TASK_CLAIMS.get(t, {})}
    def pick(prefix: str) -> dict:
        return {n[len(prefix):]: _summary(results[n]) for n in results if n.startswith(prefix)}

    ablation = {}
    for c in LADDER:
        name = f"abl-{c.replace('+', 'p-')}"
        if name in results:
            ablation[c] = {**_summary(results[name]), **{f"{k}_{inp}": v for inp, d in costs.get(c, {}).items()
                                                      for k, v in d.items() if k in ("params", "latency_ms")}}
    hf_file = Path("docs/results/hf_power.json")
    return {
        "profile": profile.name,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "python": platform.python_version()},
        "data": summarise(data_dir),
        "table1": table1,
        "ablation": ablation,
        "loss": pick("loss-"),
        "lr": pick("lr-"),
        "hf": {"runs": pick("hf-"), "power": json.loads(hf_file.read_text()) if hf_file.is_file() else None},
        "finetune": pick("ft-"),
        "efficiency": costs,
        "claims": PAPER_CLAIMS,
        "runs_root": str(root),
    }


def _f(v) -> str:
    return "n/a" if v is None or v != v else f"{v:.3f}"


def markdown(r: dict) -> str:
    quick = r["profile"] == "quick"
    L = ["# Results", "",
         f"Generated by `python -m ecgnet_tf.reproduce --profile {r['profile']}` on {r['generated']}; "
         "do not edit by hand. Every number traces to a run folder under "
         f"`{r['runs_root']}` (metrics.json, report.md, run.json).", ""]
    if quick:
        L += ["> **Quick profile: smoke figures.** Few epochs, windows capped per record, one seed. They show that "
              "the pipeline runs end to end, not how well the method works.", ""]
    d = r["data"]
    L += ["## Data actually used", "",
          f"- MIT-BIH: {d['mitdb']['records']} non-paced records, beats {d['mitdb']['beats']}",
          f"- PTB-XL: {d['ptbxl']['records']} records (100 Hz subset), labels {d['ptbxl']['labels']}",
          f"- CinC 2017: {d['cinc2017']['records']} records (subset), labels {d['cinc2017']['labels']}", "",
          "## Table 1: per task (edge config)", "",
          "| task | level | n | accuracy | macro Se | macro Sp | macro F1 | macro AUROC | extra |",
          "|---|---|---|---|---|---|---|---|---|"]
    for t, v in r["table1"].items():
        for row in v["runs"]:
            extra = f"challenge score {_f(row['challenge_score'])}" if "challenge_score" in row else ""
            L.append(f"| {t} | {row['level']} | {row['n']} | {_f(row['accuracy'])} | {_f(row['sensitivity'])} | "
                     f"{_f(row['specificity'])} | {_f(row['f1'])} | {_f(row['auroc'])} | {extra} |")
    L += ["", "Per-class figures are in each run's report.md. The paper's per-task claims are not transcribed "
          "(`ecgnet_tf/claims.py`), so none are shown here.", "",
          "## Table 2: ablation ladder on MIT-BIH (DS1 -> DS2)", "",
          "| config | accuracy | macro Se | macro Sp | macro F1 | params (1x3600) | latency ms (1x3600, Keras) |",
          "|---|---|---|---|---|---|---|"]
    for c, row in r["ablation"].items():
        L.append(f"| {c} | {_f(row['accuracy'])} | {_f(row['sensitivity'])} | {_f(row['specificity'])} | "
                 f"{_f(row['f1'])} | {row.get('params_1x3600', 'n/a')} | {row.get('latency_ms_1x3600', 'n/a')} |")
    for title, key in (("Loss comparison (MIT-BIH)", "loss"), ("Learning-rate sensitivity (MIT-BIH)", "lr"),
                       ("Fine-tuning with 10% of CinC 2017 training records", "finetune")):
        L += ["", f"## {title}", "", "| run | accuracy | macro Se | macro F1 | macro AUROC |", "|---|---|---|---|---|"]
        for name, row in r[key].items():
            L.append(f"| {name} | {_f(row['accuracy'])} | {_f(row['sensitivity'])} | {_f(row['f1'])} | "
                     f"{_f(row['auroc'])} |")
    L += ["", "## High-frequency preservation", ""]
    power = r["hf"]["power"]
    if power:
        L.append(f"50-150 Hz power kept on MIT-BIH (from `python -m ecgnet_tf.bench.hf_power`): see "
                 "[hf_power.md](results/hf_power.md); claimed 0.92 (0.5-150 Hz) vs 0.67 (0.5-40 Hz).")
    L += ["", "| band | MI sensitivity (ptbxl-mi) | accuracy | macro AUROC |", "|---|---|---|---|"]
    for name, row in r["hf"]["runs"].items():
        m = json.loads((Path(r["runs_root"]) / f"hf-{name}" / "metrics.json").read_text())
        L.append(f"| {name} | {_f(m['per_class']['MI']['sensitivity'])} | {_f(row['accuracy'])} | {_f(row['auroc'])} |")
    L += ["", "The PTB-XL copy here holds 100 Hz files only: the 0.5-150 Hz band is clipped below Nyquist (45 Hz), "
          "so this comparison cannot show a high-frequency effect on this data.", "",
          "## Table 3: efficiency (random-weight models; cost does not depend on training)", "",
          "| config | params 12x3600 | GFLOPs 12x3600 | latency ms 12x3600 (Keras float32) |", "|---|---|---|---|"]
    for c, v in r["efficiency"].items():
        x = v.get("12x3600", {})
        L.append(f"| {c} | {x.get('params')} | {x.get('flops', 0) / 1e9:.3f} | {x.get('latency_ms')} |")
    L += ["", "int8 TFLite size, parity and on-device latency come from `python -m export.quantize` and "
          "`python -m export.benchmark`: see [results/export](results/export/).", ""]
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.reproduce", description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=tuple(PROFILES))
    add_data_dir_argument(p)
    p.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups of {GROUPS}")
    p.add_argument("--runs-root", type=Path, default=None, help="default runs/reproduce-<profile>")
    p.add_argument("--docs", type=Path, default=Path("docs"), help="where RESULTS.md and results/ go")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--latency-runs", type=int, default=10)
    args = p.parse_args(argv)
    profile = PROFILES[args.profile]
    data_dir = resolve_data_dir(args.data_dir)
    root = args.runs_root or Path("runs") / f"reproduce-{profile.name}"
    groups = set(args.only.split(","))
    unknown = groups - set(GROUPS)
    if unknown:
        print(f"error: unknown groups {sorted(unknown)}; choose from {GROUPS}", file=sys.stderr)
        return 2
    results = {}
    try:
        for exp in experiments(profile):
            if exp.group in groups:
                results[exp.name] = run_experiment(exp, profile, root, data_dir, args.cache_dir)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configs = tuple(LADDER) + ("edge", "paper") if "ablation" in groups or "efficiency" in groups else ()
    costs = _model_costs(configs, args.latency_runs) if configs else {}
    report = collect(profile, root, results, costs, data_dir)
    (args.docs / "results").mkdir(parents=True, exist_ok=True)
    (args.docs / "results" / f"reproduce-{profile.name}.json").write_text(json.dumps(report, indent=2))
    (args.docs / "RESULTS.md").write_text(markdown(report))
    print(f"wrote {args.docs / 'RESULTS.md'} and {args.docs / 'results' / f'reproduce-{profile.name}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
