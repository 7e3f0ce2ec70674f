"""Turn finished reproduce runs into the results JSON, the RESULTS.md page and its figure.

Everything here reads run folders written by ``python -m ecgnet_tf.train`` (metrics.json, run.json,
history.csv) or the JSON this module wrote itself; nothing is typed in by hand. ``markdown`` is a
pure function of the results JSON, so RESULTS.md can be rebuilt for every profile that has one.
"""
from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
from datetime import datetime, timezone
from pathlib import Path

TASKS = ("mitdb-aami", "ptbxl-mi", "ptbxl-mi-loc", "cinc2017")
# files of a run folder that are copied next to the results (small; the models stay in runs/)
PUBLISHED = ("metrics.json", "run.json", "split.json", "history.csv", "report.md", "confusion_matrix.png")


def git_state(repo: Path = Path(".")) -> dict:
    """Commit and dirty flag of the checkout that produced the figures (``None`` outside git)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                                check=True).stdout.strip()
        # generated docs do not count: a rerun rewrites them before it reads this
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs"],
                               cwd=repo, capture_output=True, text=True, check=True).stdout.strip() != ""
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def summary(m: dict) -> dict:
    """The headline figures of one metrics.json: macro averages, per class and the task's extras."""
    mac = m["macro"]
    row = {"accuracy": m["accuracy"], "sensitivity": mac["sensitivity"], "specificity": mac["specificity"],
           "f1": mac["f1"], "auroc": mac["auroc"], "n": m["n"], "level": m["level"],
           "n_records": m.get("n_records"), "per_class": m["per_class"]}
    if "challenge_score" in m:
        row["challenge_score"] = m["challenge_score"]
    return row


def run_facts(run_dir: Path) -> dict:
    """How a run was trained: epochs planned and run, best epoch, training windows, wall minutes.

    Wall time is from run.json (written when training starts) to metrics.json (written after the test
    evaluation), so a resumed run counts only its last part.
    """
    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    facts = {"epochs_planned": run["epochs"], "epochs_run": 0, "best_epoch": None, "train_windows": None,
             "wall_minutes": None, "max_per_record": run.get("max_per_record"), "loss": run["loss"],
             "lr": run["lr"], "seed": run["seed"], "config": run["config"]}
    hist = run_dir / "history.csv"
    # the figure the run selected its best model on (run.json "monitor"; older runs: validation loss)
    key = facts["monitor"] = run.get("monitor") or "val_loss"
    if hist.is_file():  # a published model's folder has none
        rows = list(csv.DictReader(hist.open()))
        facts["epochs_run"] = len(rows)
        vals = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
        if vals:
            pick = max if key == "val_macro_f1" else min
            facts["best_epoch"] = 1 + pick(range(len(vals)), key=vals.__getitem__)
    if run.get("balance"):
        facts["train_windows"] = int(sum(run["balance"]["after"].values()))
    metrics = run_dir / "metrics.json"
    if metrics.is_file():
        facts["wall_minutes"] = round((metrics.stat().st_mtime - (run_dir / "run.json").stat().st_mtime) / 60, 1)
    return facts


def publish_run(run_dir: Path, dest: Path) -> None:
    """Copy the small, human-readable files of a run folder to ``dest`` (models are not copied)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PUBLISHED:
        if (Path(run_dir) / name).is_file():
            shutil.copy2(Path(run_dir) / name, dest / name)


def collect(profile: str, root: Path, experiments: list, data: dict, costs: dict, int8: dict | None,
            claims: dict, task_claims: dict, published: str | None) -> dict:
    """Assemble the results JSON of one profile from its finished runs.

    ``experiments`` is the profile's list of ``Experiment`` (name, group, args); runs whose
    metrics.json is missing are left out. ``published`` is where run files were copied, relative to
    docs/ (links in the page), or ``None``.
    """
    runs = {}
    for exp in experiments:
        d = Path(root) / exp.name
        if not (d / "metrics.json").is_file():
            continue
        runs[exp.name] = {"group": exp.group, "args": list(exp.args), **run_facts(d),
                          **summary(json.loads((d / "metrics.json").read_text()))}
    return {
        "profile": profile,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "git": git_state(),
        "data": data,
        "runs": runs,
        "efficiency": costs,
        "int8": int8,
        "claims": claims,
        "task_claims": task_claims,
        "runs_root": str(root),
        "published": published,
    }


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None or v != v else f"{v:.{digits}f}"


def _group(r: dict, group: str) -> dict:
    return {n: v for n, v in r["runs"].items() if v["group"] == group}


def _link(r: dict, name: str) -> str:
    return f"[{name}](results/{r['published']}/{name}/report.md)" if r.get("published") else f"`{name}`"


def _metrics_table(r: dict, rows: dict) -> list[str]:
    L = ["| run | accuracy | macro Se | macro Sp | macro F1 | macro AUROC | epochs (best) |",
         "|---|---|---|---|---|---|---|"]
    for name, v in rows.items():
        L.append(f"| {_link(r, name)} | {_f(v['accuracy'])} | {_f(v['sensitivity'])} | {_f(v['specificity'])} | "
                 f"{_f(v['f1'])} | {_f(v['auroc'])} | {v['epochs_run']} ({v['best_epoch']}) |")
    return L


def markdown(r: dict) -> str:
    """The results page of one profile (a pure function of the results JSON)."""
    quick = r["profile"] == "quick"
    git = r.get("git") or {}
    L = [f"## Profile `{r['profile']}`", "",
         f"Generated by `python -m ecgnet_tf.reproduce --profile {r['profile']}` on {r['generated']} "
         f"(commit `{(git.get('commit') or 'unknown')[:12]}`{', with local changes' if git.get('dirty') else ''}; "
         f"{r['host']['machine']}, {r['host'].get('cpus')} CPUs, Python {r['host']['python']}). "
         "Every figure is read from a run's metrics.json"
         + (f"; the run files are copied to [results/{r['published']}](results/{r['published']}/)." if r.get(
             "published") else "."), ""]
    if quick:
        L += ["> **Quick profile: smoke figures.** Few epochs, windows capped per record, one seed. They show that "
              "the pipeline runs end to end, not how well the method works.", ""]
    d = r["data"]
    L += ["### Data actually used", "",
          f"- MIT-BIH: {d['mitdb']['records']} non-paced records, beats {d['mitdb']['beats']}",
          f"- PTB-XL: {d['ptbxl']['records']} records (100 Hz subset), labels {d['ptbxl']['labels']}",
          f"- CinC 2017: {d['cinc2017']['records']} records (subset), labels {d['cinc2017']['labels']}", ""]
    L += _protocol(r)
    L += _table1(r)
    L += _sweeps(r)
    L += _hf(r)
    L += _efficiency(r)
    return "\n".join(L)


def _protocol(r: dict) -> list[str]:
    L = ["### Protocol", "",
         "Each row is one `python -m ecgnet_tf.train` run with these arguments (plus `--data-dir` and `--out`). "
         "Splits are patient-level (MIT-BIH: de Chazal DS1 -> DS2 with record 202 dropped, validation records "
         "carved from DS1; PTB-XL: the dataset's patient-respecting `strat_fold` 1-8 / 9 / 10; CinC 2017: "
         "stratified 5-fold grouped by subject, fold 0 tested). Normalisation and SMOTE-Tomek are fitted on "
         "training windows only; every run is "
         "evaluated on its whole test partition with the model of its best validation epoch. One seed.", "",
         "| run | arguments | epochs run (best) | training windows | wall min |", "|---|---|---|---|---|"]
    for name, v in r["runs"].items():
        L.append(f"| {name} | `{' '.join(v['args'])}` | {v['epochs_run']} ({v['best_epoch']}) | "
                 f"{v['train_windows'] if v['train_windows'] is not None else 'all'} | {_f(v['wall_minutes'], 1)} |")
    total = sum(v["wall_minutes"] or 0 for v in r["runs"].values())
    return L + ["", f"Total training and evaluation time: {total / 60:.1f} h.", ""]


def _mean_std(values: list) -> str:
    vals = [v for v in values if v is not None and v == v]
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{vals[0]:.3f}"
    return f"{statistics.mean(vals):.3f} ± {statistics.stdev(vals):.3f}"


def _table1(r: dict) -> list[str]:
    t1 = _group(r, "table1")
    by_task = {t: {n: v for n, v in t1.items() if n.startswith(f"t1-{t}-s")} for t in TASKS}
    by_task = {t: runs for t, runs in by_task.items() if runs}
    L = ["### Table 1: per task (edge config)", "",
         "One row per seed; where a task has several seeds a `mean ± std` row (sample std) follows.", "",
         "| task | run | level | test n | accuracy | macro Se | macro Sp | macro F1 | macro AUROC | extra |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    keys = ("accuracy", "sensitivity", "specificity", "f1", "auroc")
    for t, runs in by_task.items():
        for name, v in runs.items():
            extra = f"challenge score {_f(v['challenge_score'])}" if "challenge_score" in v else ""
            L.append(f"| {t} | {_link(r, name)} | {v['level']} | {v['n']} | "
                     + " | ".join(_f(v[k]) for k in keys) + f" | {extra} |")
        if len(runs) > 1:
            vs = list(runs.values())
            extra = (f"challenge score {_mean_std([v['challenge_score'] for v in vs])}"
                     if "challenge_score" in vs[0] else "")
            L.append(f"| {t} | **mean ± std, {len(vs)} seeds** | | | "
                     + " | ".join(_mean_std([v[k] for v in vs]) for k in keys) + f" | {extra} |")
    L += [""]
    for t, runs in by_task.items():
        vs = list(runs.values())
        L += [f"Per class, {t} ({'mean ± std over ' + str(len(vs)) + ' seeds' if len(vs) > 1 else next(iter(runs))}):",
              "", "| class | support | Se | Sp | +P | F1 | AUROC |", "|---|---|---|---|---|---|---|"]
        for c, pc in vs[0]["per_class"].items():
            cells = [_mean_std([v["per_class"][c][k] for v in vs]) for k in ("sensitivity", "specificity", "ppv",
                                                                             "f1", "auroc")]
            L.append(f"| {c} | {pc['support']} | " + " | ".join(cells) + " |")
        L.append("")
    claimed = {t: c for t, c in r.get("task_claims", {}).items() if c}
    if claimed:
        L += ["Claimed by the paper (not measured here):", "", "| task | claim | value |", "|---|---|---|"]
        L += [f"| {t} | {k} | {v} |" for t, c in claimed.items() for k, v in c.items()] + [""]
    else:
        L += ["The paper's per-task Table 1 figures are not in this repository (`ecgnet_tf/claims.py`), so "
              "no claimed values are shown next to these; none were typed in from memory.", ""]
    return L


def _sweeps(r: dict) -> list[str]:
    costs = r.get("efficiency", {}).get("configs", {})
    L = ["### Table 2: ablation ladder on MIT-BIH (DS1 -> DS2)", "",
         "Smaller training budget than Table 1 (see the protocol); all six runs share it. Parameters and "
         "latency are for one 1x3600 input, Keras float32, batch 1, measured in the same run.", "",
         "| config | accuracy | macro Se | macro Sp | macro F1 | macro AUROC | params | latency ms |",
         "|---|---|---|---|---|---|---|---|"]
    for name, v in _group(r, "ablation").items():
        c = costs.get(v["config"], {}).get("1x3600", {})
        L.append(f"| {_link(r, name)} ({v['config']}) | {_f(v['accuracy'])} | {_f(v['sensitivity'])} | "
                 f"{_f(v['specificity'])} | {_f(v['f1'])} | {_f(v['auroc'])} | {c.get('params', 'n/a')} | "
                 f"{c.get('latency_ms', 'n/a')} |")
    for title, group, note in (
            ("Loss comparison (MIT-BIH)", "loss", "Same budget as Table 2, edge config."),
            ("Learning-rate sensitivity (MIT-BIH)", "lr", "Same budget as Table 2, edge config, focal loss."),
            ("Fine-tuning with 10% of CinC 2017 training records", "finetune",
             "Both runs see the same 10% of training records; one starts from the Table 1 MIT-BIH weights "
             "(layers whose shapes match), the other from scratch. Test fold as in Table 1.")):
        L += ["", f"### {title}", "", note, ""] + _metrics_table(r, _group(r, group))
    if r.get("figure"):
        L += ["", f"![ablation, loss and learning rate](results/{r['figure']})"]
    return L + [""]


def _hf(r: dict) -> list[str]:
    L = ["### High-frequency preservation", "",
         "50-150 Hz power kept on MIT-BIH by the two filters: [hf_power.md](results/hf_power.md) "
         f"(`python -m ecgnet_tf.bench.hf_power`; claimed {r['claims']['preprocessing']['hf_power_retained_0.5-150Hz']}"
         f" vs {r['claims']['preprocessing']['hf_power_retained_0.5-40Hz']}).", "",
         "| band | MI sensitivity (ptbxl-mi) | accuracy | macro AUROC |", "|---|---|---|---|"]
    for name, v in _group(r, "hf").items():
        band = name.split("-", 1)[1]
        L.append(f"| {band} | {_f(v['per_class']['MI']['sensitivity'])} | {_f(v['accuracy'])} | {_f(v['auroc'])} |")
    return L + ["", "The PTB-XL copy here holds 100 Hz files only: the 0.5-150 Hz band is clipped to 0.45 x 100 Hz "
                "= 45 Hz, so this comparison cannot show a high-frequency effect on this data.", ""]


def _efficiency(r: dict) -> list[str]:
    costs = r.get("efficiency", {})
    cfg = costs.get("configs", {})
    tfl = costs.get("tflite", {}).get("12x3600")
    runs = r["runs"]
    acc_of = {"baseline": "abl-baseline", "paper": "eff-paper", "edge": "abl-p-separable"}
    L = ["### Table 3: efficiency", "",
         "Cost columns: one 12x3600 input, batch 1, median over repeated calls on this host (random weights: cost "
         "does not depend on training). Accuracy columns: MIT-BIH DS1 -> DS2; the three float rows are trained at "
         "the Table 2 budget so they compare alike, the int8 row is the Table 1 model (see below).", "",
         "| model | params | GFLOPs | weights / file MB | latency ms | MIT-BIH accuracy | macro F1 |",
         "|---|---|---|---|---|---|---|"]
    for label, name, in (("baseline CNN-BiLSTM (float32)", "baseline"), ("paper config (float32)", "paper"),
                         ("edge (float32)", "edge")):
        x = cfg.get(name, {}).get("12x3600")
        if not x:
            continue
        run = runs.get(acc_of[name])
        L.append(f"| {label} | {x['params']:,} | {x['flops'] / 1e9:.3f} | {x['float32_bytes'] / 1e6:.2f} | "
                 f"{x['latency_ms']} | {_f(run['accuracy']) if run else 'not run'} | "
                 f"{_f(run['f1']) if run else 'not run'} |")
    i8 = r.get("int8")
    if tfl:
        acc = f1 = "not run"
        if i8:
            acc = f"{_f(i8['task_metrics']['accuracy'])} (float {_f(i8['float_task_metrics']['accuracy'])})"
            f1 = f"{_f(i8['task_metrics']['macro']['f1'])} (float {_f(i8['float_task_metrics']['macro']['f1'])})"
        L.append(f"| edge (int8 TFLite) | same | same | {tfl['bytes'] / 1e6:.2f} | {tfl['latency_ms']} | {acc} | "
                 f"{f1} |")
    L += ["", "Latency: Keras float32 rows call the model in a `tf.function` (all cores); the int8 row is the "
          "LiteRT interpreter on 1 thread. Size: float32 weights for Keras rows, the .tflite file for int8. "
          "Phone estimates are in [results/export](results/export/)."]
    if i8:
        p = i8["parity"]
        L += [f"The int8 row's accuracy is the Table 1 MIT-BIH model quantized by `python -m export.quantize` "
              f"({i8['calibration']['n']} training windows for calibration) and scored on {p['subset']} of DS2 "
              "(float on the same windows in brackets); "
              f"top-1 agreement with Keras {_f(p['top1_agreement'])}."]
    return L + [""]


def figure(r: dict, path: Path) -> bool:
    """Bar charts of the ablation, loss and learning-rate runs (accuracy, macro Se, macro F1)."""
    groups = [(g, _group(r, g)) for g in ("ablation", "loss", "lr")]
    groups = [(g, rows) for g, rows in groups if rows]
    if not groups:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    widths = [max(len(rows), 2) for _, rows in groups]
    fig, axes = plt.subplots(1, len(groups), figsize=(2.2 + 1.1 * sum(widths), 3.6), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    keys = (("accuracy", "accuracy"), ("sensitivity", "macro Se"), ("f1", "macro F1"))
    for ax, (g, rows) in zip(axes[0], groups):
        x = np.arange(len(rows))
        for i, (k, lab) in enumerate(keys):
            ax.bar(x + (i - 1) * 0.27, [v[k] for v in rows.values()], 0.27, label=lab)
        names = [v["config"] if g == "ablation" else n.split("-", 1)[1] for n, v in rows.items()]
        ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title({"ablation": "ablation ladder", "loss": "loss", "lr": "learning rate"}[g])
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"MIT-BIH DS1 -> DS2, profile {r['profile']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def results_page(reports: list[dict]) -> str:
    """docs/RESULTS.md: one section per profile that has results, ``full`` first."""
    order = sorted(reports, key=lambda r: (r["profile"] != "full", r["profile"]))
    L = ["# Results", "",
         "Generated by `python -m ecgnet_tf.reproduce`; do not edit by hand. Each profile's section is rebuilt "
         "from `docs/results/reproduce-<profile>.json` whenever any profile is run.", "",
         "These tables follow the paper's protocol (one run per row: its Table 1, ablations, losses, learning rates, "
         "filtering, fine-tuning, efficiency), each on the date and commit it names. The project's current accuracy "
         "figures, with their targets, cross-validation and the models that ship, are in the study reports: beats "
         "[results/mitdb/report.md](results/mitdb/report.md), rhythm [results/cinc2017/report.md]"
         "(results/cinc2017/report.md), myocardial infarction [results/ptbxl/report.md](results/ptbxl/report.md), "
         "signal quality [results/quality/report.md](results/quality/report.md), int8 export "
         "[results/export/report.md](results/export/report.md).", ""]
    if not any(r["profile"] == "full" for r in order):
        L += ["No `full` profile has been run yet: only smoke figures below.", ""]
    L += [f"- [Profile `{r['profile']}`](#profile-{r['profile']})" for r in order] + [""]
    return "\n".join(L + [markdown(r) for r in order])
