"""results_report: every figure on the results page comes from a run folder, and the page is rebuilt per profile."""
from __future__ import annotations

import json
import os

import pytest

from ecgnet_tf import reproduce
from ecgnet_tf import results_report as rr
from ecgnet_tf.claims import PAPER_CLAIMS, TASK_CLAIMS

DATA = {"mitdb": {"records": 44, "beats": {"N": 1}}, "ptbxl": {"records": 9, "labels": {"MI": 1}},
        "cinc2017": {"records": 7, "labels": {"A": 1}}}


def _metrics(acc: float, classes=("N", "S", "V", "F", "Q")) -> dict:
    pc = {c: {"sensitivity": acc / (i + 1), "specificity": 0.9, "ppv": 0.5, "f1": acc / 2, "auroc": 0.8,
              "support": 10 * (i + 1)} for i, c in enumerate(classes)}
    macro = {k: sum(v[k] for v in pc.values()) / len(pc) for k in ("sensitivity", "specificity", "ppv", "f1", "auroc")}
    return {"accuracy": acc, "macro": macro, "per_class": pc, "n": 1234, "level": "beat", "n_records": 21}


def _fake_run(root, name, acc, val_losses, classes=("N", "S", "V", "F", "Q"), minutes=3.0, balance=True,
              config="edge"):
    d = root / name
    d.mkdir(parents=True)
    run = {"epochs": 10, "max_per_record": None, "loss": "focal", "lr": 1e-3, "seed": 0, "config": config,
           "balance": {"after": {"0": 100, "1": 50}} if balance else None}
    (d / "run.json").write_text(json.dumps(run))
    rows = ["epoch,loss,val_loss"] + [f"{i},0.1,{v}" for i, v in enumerate(val_losses)]
    (d / "history.csv").write_text("\n".join(rows) + "\n")
    (d / "metrics.json").write_text(json.dumps(_metrics(acc, classes)))
    (d / "report.md").write_text("# report\n")
    t = (d / "run.json").stat().st_mtime
    os.utime(d / "metrics.json", (t + 60 * minutes, t + 60 * minutes))
    return d


def test_run_facts_from_history_and_timestamps(tmp_path):
    d = _fake_run(tmp_path, "r", 0.5, [0.9, 0.4, 0.6], minutes=2.5)
    f = rr.run_facts(d)
    assert f["epochs_run"] == 3 and f["best_epoch"] == 2 and f["epochs_planned"] == 10
    assert f["train_windows"] == 150 and f["wall_minutes"] == pytest.approx(2.5, abs=0.05)
    assert f["monitor"] == "val_loss"
    (d / "history.csv").unlink()  # a published model's folder: no history, the monitor still named
    f = rr.run_facts(d)
    assert f["epochs_run"] == 0 and f["best_epoch"] is None and f["monitor"] == "val_loss"


def test_page_is_built_from_run_metrics_only(tmp_path):
    root = tmp_path / "runs"
    exps = reproduce.experiments(reproduce.PROFILES["full"])
    _fake_run(root, "t1-mitdb-aami-s0", 0.8123, [0.5, 0.3])
    _fake_run(root, "t1-ptbxl-mi-s0", 0.7011, [0.5], classes=("NORM", "MI"), balance=False)
    _fake_run(root, "abl-baseline", 0.4321, [0.5], config="baseline")
    _fake_run(root, "abl-p-separable", 0.6543, [0.5], config="+separable")
    _fake_run(root, "hf-conventional", 0.6111, [0.5], classes=("NORM", "MI"), balance=False)
    costs = {"configs": {c: {"12x3600": {"params": 1000, "flops": 2e9, "latency_ms": 3.0, "float32_bytes": 4000},
                             "1x3600": {"params": 999, "flops": 1e9, "latency_ms": 1.5, "float32_bytes": 3996}}
                         for c in (*reproduce.LADDER, "edge", "paper")},
             "tflite": {"12x3600": {"bytes": 2_000_000, "latency_ms": 0.9}}}
    r = rr.collect("full", root, exps, DATA, costs, None, PAPER_CLAIMS, TASK_CLAIMS, "reproduce-full")
    assert set(r["runs"]) == {"t1-mitdb-aami-s0", "t1-ptbxl-mi-s0", "abl-baseline", "abl-p-separable",
                              "hf-conventional"}  # runs without metrics are left out, none invented
    assert r["runs"]["t1-mitdb-aami-s0"]["args"] == list(exps[0].args)
    md = rr.markdown(json.loads(json.dumps(r)))  # a pure function of the JSON
    assert "| beat | 1234 | 0.812 |" in md and "seeds** |" not in md
    assert "`--task mitdb-aami --config edge --epochs 10 --seed 0` | 2 (2) | 150 | 3.0 |" in md
    assert "(baseline) | 0.432 |" in md and "| 999 | 1.5 |" in md
    assert "| conventional | 0.306 | 0.611 | 0.800 |" in md  # the fake's MI (class 2) sensitivity is acc / 2
    assert "| edge (float32) | 1,000 | 2.000 | 0.00 | 3.0 | 0.654 |" in md
    assert "| paper config (float32) | 1,000 | 2.000 | 0.00 | 3.0 | not run | not run |" in md
    assert "| edge (int8 TFLite) | same | same | 2.00 | 0.9 | not run |" in md
    assert "Quick profile" not in md and "not in this repository" in md
    assert rr.figure(r, tmp_path / "fig.png") and (tmp_path / "fig.png").stat().st_size > 1000


def test_table1_mean_and_std_over_seeds(tmp_path):
    profile = reproduce.Profile("two", (), (), epochs=1, ablation_epochs=1, seeds=(0, 1))
    exps = reproduce.experiments(profile)
    assert [e.name for e in exps if e.group == "table1"][:2] == ["t1-mitdb-aami-s0", "t1-mitdb-aami-s1"]
    _fake_run(tmp_path, "t1-mitdb-aami-s0", 0.80, [0.5])
    _fake_run(tmp_path, "t1-mitdb-aami-s1", 0.90, [0.5])
    r = rr.collect("two", tmp_path, exps, DATA, {}, None, PAPER_CLAIMS, TASK_CLAIMS, None)
    md = rr.markdown(r)
    assert "| mitdb-aami | **mean ± std, 2 seeds** | | | 0.850 ± 0.071 |" in md
    assert "| N | 10 | 0.850 ± 0.071 |" in md  # per class: class N sensitivity = acc in the fakes


def test_results_page_puts_full_first_and_labels_quick():
    base = {"generated": "t", "host": {"machine": "x", "python": "3", "cpus": 2}, "git": {"commit": "abc"},
            "data": DATA, "runs": {}, "efficiency": {}, "int8": None, "claims": PAPER_CLAIMS, "task_claims": {},
            "runs_root": "runs", "published": None}
    page = rr.results_page([{**base, "profile": "quick"}, {**base, "profile": "full"}])
    assert page.index("## Profile `full`") < page.index("## Profile `quick`")
    assert "Quick profile: smoke figures" in page and "No `full` profile" not in page
    only_quick = rr.results_page([{**base, "profile": "quick"}])
    assert "No `full` profile has been run yet" in only_quick


def test_publish_copies_small_files_only(tmp_path):
    d = _fake_run(tmp_path, "r", 0.5, [0.5])
    (d / "model.keras").write_bytes(b"x" * 100)
    rr.publish_run(d, tmp_path / "pub")
    assert (tmp_path / "pub" / "metrics.json").read_text() == (d / "metrics.json").read_text()
    assert not (tmp_path / "pub" / "model.keras").exists()


def test_git_state_ignores_generated_docs(tmp_path):
    import subprocess

    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "RESULTS.md").write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert rr.git_state(tmp_path)["dirty"] is False
    (tmp_path / "docs" / "RESULTS.md").write_text("new\n")
    assert rr.git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    state = rr.git_state(tmp_path)
    assert state["dirty"] is True and len(state["commit"]) == 40
    assert rr.git_state(tmp_path / "docs")["commit"] == state["commit"]


def test_run_facts_best_epoch_follows_the_runs_monitor(tmp_path):
    d = _fake_run(tmp_path, "f1", 0.5, [0.9, 0.4, 0.6])
    run = json.loads((d / "run.json").read_text())
    (d / "run.json").write_text(json.dumps({**run, "monitor": "val_macro_f1"}))
    (d / "history.csv").write_text("epoch,loss,val_loss,val_macro_f1\n0,0.1,0.9,0.2\n1,0.1,0.4,0.3\n2,0.1,0.6,0.5\n")
    f = rr.run_facts(d)
    assert f["best_epoch"] == 3 and f["monitor"] == "val_macro_f1"  # highest macro F1, not lowest loss
