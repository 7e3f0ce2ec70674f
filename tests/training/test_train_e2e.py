"""End to end on tiny fake WFDB databases: train -> checkpoint -> resume -> evaluate -> reports."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgnet_tf import evaluate, train
from ecgnet_tf.runs import load_model
from ecgnet_tf.training.evaluation import evaluate_run

pytestmark = pytest.mark.slow


def _train(fake_data, tmp_path, task, *extra):
    out = tmp_path / task
    rc = train.main(["--task", task, "--quick", "--data-dir", str(fake_data), "--out", str(out), "--epochs", "1",
                     "--batch-size", "16", "--cache-dir", str(tmp_path / "cache"), *extra])
    assert rc == 0
    return out


def _check_metrics(m, task_classes):
    assert m["partition"] == "test" and m["n"] > 0
    assert 0.0 <= m["accuracy"] <= 1.0
    assert set(m["per_class"]) == set(task_classes)
    for pc in m["per_class"].values():
        assert set(pc) == {"sensitivity", "specificity", "ppv", "f1", "auroc", "support"}
    assert sum(pc["support"] for pc in m["per_class"].values()) >= m["n"]


@pytest.mark.parametrize("task", ["mitdb-aami", "ptbxl-mi", "ptbxl-mi-loc", "cinc2017"])
def test_quick_run_each_task(trained_run, task):
    from ecgnet_tf.tasks import get_task

    out = trained_run(task)
    for f in ("metrics.json", "report.md", "confusion_matrix.png", "roc.png", "model.keras", "run.json",
              "split.json", "normalization.json", "checkpoints/epoch-0001.keras", "checkpoints/state.json", "history.csv"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == task
    _check_metrics(m, get_task(task).classes)
    split = json.loads((out / "split.json").read_text())
    assert not set(split["train"]) & set(split["test"]) and not set(split["val"]) & set(split["test"])


def test_metrics_are_computed_from_predictions(trained_run, window_cache, tmp_path):
    out = trained_run("cinc2017")
    m1 = json.loads((out / "metrics.json").read_text())
    # a model that always predicts class 0 must give the metrics of that constant prediction
    model = load_model(out / "model.keras")
    w = model.layers[-1].get_weights()
    w[0][:] = 0
    w[1][:] = np.array([10.0, 0, 0, 0])
    model.layers[-1].set_weights(w)
    m2 = evaluate_run(out, cache_dir=window_cache, out_dir=tmp_path / "const", model=model)
    assert m2["per_class"]["N"]["sensitivity"] == 1.0 and m2["per_class"]["A"]["sensitivity"] == 0.0
    cm = np.array(m2["confusion_matrix"])
    # only N, or '~' for records whose every window fails the quality gate, can be predicted
    assert cm[:, 1].sum() == 0 and cm[:, 2].sum() == 0 and cm.sum() == m2["n"] == m1["n"]
    assert m2["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert m2["per_class"]["N"]["ppv"] == pytest.approx(cm[0, 0] / cm[:, 0].sum())


def test_resume_continues_from_checkpoint(trained_run, fake_data, window_cache, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained_run("ptbxl-mi"), out)
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1
    rc = train.main(["--task", "ptbxl-mi", "--quick", "--data-dir", str(fake_data), "--out", str(out),
                     "--epochs", "2", "--batch-size", "16", "--cache-dir", str(window_cache), "--resume"])
    assert rc == 0
    assert json.loads((out / "checkpoints" / "state.json").read_text())["epoch"] == 2
    assert len((out / "history.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs


def test_evaluate_cli_on_record_list(trained_run, fake_data, window_cache, tmp_path, capsys):
    out = trained_run("mitdb-aami")
    split = json.loads((out / "split.json").read_text())
    rc = evaluate.main([str(out), "--data-dir", str(fake_data), "--records", split["test"][0],
                        "--out", str(tmp_path / "ev"), "--cache-dir", str(window_cache)])
    assert rc == 0
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["n_records"] == 1 and m["n"] > 10


def test_missing_database_is_explained(tmp_path, capsys):
    rc = train.main(["--task", "cinc2017", "--data-dir", str(tmp_path), "--quick"])
    err = capsys.readouterr().err
    assert rc == 2 and "cinc2017 not found" in err and "python -m data.download cinc2017" in err


def test_training_windows_never_include_test_records(fake_data, tmp_path):
    out = _train(fake_data, tmp_path, "mitdb-aami", "--majority-cap", "60", "--smote-target", "50")
    split = json.loads((out / "split.json").read_text())
    run = json.loads((out / "run.json").read_text())
    assert "202" not in split["test"]  # same subject as 201
    assert run["balance"]["after"] and sum(run["balance"]["before"].values()) <= 150 * len(split["train"])
    # the balancing flags replace the quick profile's caps, and the counts obey them
    assert (run["balance"]["majority_cap"], run["balance"]["target"]) == (60, 50)
    assert max(run["balance"]["before"].values()) > 60 >= max(run["balance"]["after"].values())


def test_bad_balance_setting_is_explained(fake_data, tmp_path, capsys):
    rc = train.main(["--task", "mitdb-aami", "--quick", "--data-dir", str(fake_data), "--out", str(tmp_path / "r"),
                     "--majority-cap", "0"])
    assert rc == 2 and "majority_cap must be >= 1, got 0" in capsys.readouterr().err


def test_normalisation_fitted_on_training_windows_only(trained_run, fake_data, window_cache):
    from ecgnet_tf.runs import RunConfig, load_split
    from ecgnet_tf.tasks import TaskRecords, catalog, get_task, load_windows

    out = trained_run("ptbxl-mi")
    cfg, split = RunConfig.load(out), load_split(out)
    task = get_task("ptbxl-mi")
    cat = catalog(task, fake_data)
    recs = TaskRecords(task, split, cat.label_of, cat.entry_of)
    pcfg = cfg.preprocess_config()
    stats = json.loads((out / "normalization.json").read_text())
    train_w = load_windows(recs, fake_data, split.train, pcfg, window_cache)
    all_w = load_windows(recs, fake_data, split.train + split.val + split.test, pcfg, window_cache)
    np.testing.assert_allclose(stats["mean"], train_w.x.mean(axis=(0, 1)), atol=1e-5)
    assert not np.allclose(stats["std"], all_w.x.std(axis=(0, 1)), atol=1e-6)


def test_mirrored_strategy_over_two_logical_cpus(fake_data, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "mirrored"
    cmd = [sys.executable, "-m", "ecgnet_tf.train", "--task", "ptbxl-mi", "--quick", "--data-dir", str(fake_data),
           "--out", str(out), "--epochs", "1", "--batch-size", "8", "--strategy", "mirrored",
           "--cache-dir", str(tmp_path / "cache")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "replicas: 2" in res.stdout
    assert json.loads((out / "metrics.json").read_text())["n"] > 0


def test_evaluate_on_records_never_overwrites_the_runs_metrics(trained_run, fake_data, window_cache, tmp_path):
    """The issue's reproduction: ``evaluate RUN --records 100`` used to replace RUN/metrics.json."""
    run = tmp_path / "run"
    shutil.copytree(trained_run("mitdb-aami"), run)
    before = (run / "metrics.json").read_bytes()
    split = json.loads((run / "split.json").read_text())
    rid = split["test"][0]
    assert evaluate.main([str(run), "--records", rid, "--cache-dir", str(window_cache)]) == 0
    assert (run / "metrics.json").read_bytes() == before
    m = json.loads((run / "evaluations" / f"records-{rid}" / "metrics.json").read_text())
    assert m["partition"] == "records" and m["n_records"] == 1
    assert evaluate.main([str(run), "--partition", "val", "--cache-dir", str(window_cache)]) == 0
    assert (run / "metrics.json").read_bytes() == before and (run / "evaluations" / "val" / "metrics.json").is_file()


def test_beat_model_with_rr_input_trains_and_evaluates(trained_run, fake_data, window_cache, tmp_path):
    """edge-rr: the RR-interval features of each beat travel through SMOTE, the pipeline and evaluation."""
    from ecgnet_tf.runs import ModelSpec, load_model
    from ecgnet_tf.tasks import TaskRecords, catalog, get_task, load_windows

    run = trained_run("mitdb-aami", "edge-rr")
    spec = ModelSpec.from_run(run)
    assert spec.inputs == ("ecg", "prior", "rr")
    model = load_model(run / "model.keras")
    assert [i.name for i in model.inputs] == ["ecg", "prior", "rr"]
    cfg = json.loads((run / "run.json").read_text())
    assert cfg["model_config"]["rr_features"] == 8 and cfg["balance"]["after"]  # SMOTE ran with the RR features
    m = json.loads((run / "metrics.json").read_text())
    _check_metrics(m, get_task("mitdb-aami").classes)
    # the same windows with another rhythm give other probabilities: the model reads the RR input
    split = json.loads((run / "split.json").read_text())
    task = get_task("mitdb-aami")
    cat = catalog(task, fake_data)
    w = load_windows(TaskRecords(task, None, cat.label_of, cat.entry_of), fake_data, split["test"][:1],
                     spec.preprocess, window_cache)
    assert w.rr.shape == (len(w), 10)  # the beat's rr row; this model takes its first 8 columns
    named = w.named()
    p1 = spec.predict(model, named)
    p2 = spec.predict(model, {**named, "rr": np.full_like(w.rr, 0.4)})
    assert not np.allclose(p1, p2)


def test_beat_model_with_template_input_trains_and_reads_it(trained_run, fake_data, window_cache):
    """edge-rrt: the beat-template rows ("morph") travel through SMOTE, the pipeline and evaluation;
    rows computed from cached windows equal those of the direct path (tasks.inputs.beat_inputs)."""
    from ecgnet_tf.runs import ModelSpec, load_model
    from ecgnet_tf.tasks import TaskRecords, catalog, get_task, load_windows
    from ecgnet_tf.tasks.windows import task_record_windows

    run = trained_run("mitdb-aami", "edge-rrt")
    spec = ModelSpec.from_run(run)
    assert spec.inputs == ("ecg", "prior", "rr", "morph")
    model = load_model(run / "model.keras")
    assert [i.name for i in model.inputs] == ["ecg", "prior", "rr", "morph"]
    cfg = json.loads((run / "run.json").read_text())
    assert cfg["model_config"]["morph_features"] == 8 and cfg["balance"]["after"]
    _check_metrics(json.loads((run / "metrics.json").read_text()), get_task("mitdb-aami").classes)
    split = json.loads((run / "split.json").read_text())
    task = get_task("mitdb-aami")
    cat = catalog(task, fake_data)
    rid = split["test"][0]
    w = load_windows(TaskRecords(task, None, cat.label_of, cat.entry_of), fake_data, [rid],
                     spec.preprocess, window_cache)
    direct = task_record_windows(task, fake_data, rid, spec.preprocess)
    assert w.morph.shape == (len(w), 8)
    np.testing.assert_array_equal(w.morph, direct.morph)
    named = w.named()
    p1 = spec.predict(model, named)
    p2 = spec.predict(model, {**named, "morph": np.zeros_like(w.morph)})
    assert not np.allclose(p1, p2)


def test_beat_model_with_rhythm_context_trains_and_reads_the_context_columns(trained_run, fake_data, window_cache):
    """edge-rrtc: the "rr" input takes all 10 columns of the beat's row (RR features + recent-rhythm
    context); an edge-rr model of the same windows is fed the first 8 only."""
    from ecgnet_tf.runs import ModelSpec, load_model
    from ecgnet_tf.tasks import TaskRecords, catalog, get_task, load_windows

    run = trained_run("mitdb-aami", "edge-rrtc")
    spec = ModelSpec.from_run(run)
    assert spec.rr_width == 10 and spec.inputs == ("ecg", "prior", "rr", "morph")
    assert ModelSpec.from_sidecar(spec.to_sidecar()).rr_width == 10
    model = load_model(run / "model.keras")
    _check_metrics(json.loads((run / "metrics.json").read_text()), get_task("mitdb-aami").classes)
    task = get_task("mitdb-aami")
    cat = catalog(task, fake_data)
    rid = json.loads((run / "split.json").read_text())["test"][0]
    w = load_windows(TaskRecords(task, None, cat.label_of, cat.entry_of), fake_data, [rid], spec.preprocess,
                     window_cache)
    assert w.rr.shape == (len(w), 10) and spec.prepare(w.named())["rr"].shape == (len(w), 10)
    named = w.named()
    ctx = named["rr"].copy()
    ctx[:, 8:] = 0.5
    assert not np.allclose(spec.predict(model, named), spec.predict(model, {**named, "rr": ctx}))
    spec8 = ModelSpec.from_run(trained_run("mitdb-aami", "edge-rr"))
    assert spec8.rr_width == 8
    np.testing.assert_array_equal(spec8.prepare(named)["rr"], w.rr[:, :8])
    with pytest.raises(ValueError, match="takes 10 columns"):
        spec.prepare({**named, "rr": w.rr[:, :8]})


def test_rr_input_must_fit_the_task(fake_data, tmp_path, capsys):
    """edge-rr (8 beat RR-interval features) on a segment task, or edge-rhythm (segment rhythm features)
    on a beat task: one clear error naming both configs, before any window is cut."""
    rc = train.main(["--task", "cinc2017", "--config", "edge-rr", "--quick", "--data-dir", str(fake_data),
                     "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "--config edge-rr takes 8 beat RR-interval features" in err
    assert "cinc2017 is a segment task" in err and "use --config edge-rhythm" in err
    rc = train.main(["--task", "mitdb-aami", "--config", "edge-rhythm", "--quick", "--data-dir", str(fake_data),
                     "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == 2 and "--config edge-rhythm takes 13 segment rhythm features" in err
    assert "mitdb-aami is a beat task" in err and "use --config edge-rr" in err


def test_model_selection_on_validation_macro_f1(fake_data, window_cache, tmp_path):
    """--monitor val_macro_f1: the figure is logged every epoch and the best model is the highest one."""
    import csv

    out = tmp_path / "f1"
    rc = train.main(["--task", "mitdb-aami", "--config", "edge-rr", "--quick", "--epochs", "2", "--batch-size", "16",
                     "--monitor", "val_macro_f1", "--data-dir", str(fake_data), "--out", str(out),
                     "--cache-dir", str(window_cache)])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    f1 = [float(r["val_macro_f1"]) for r in rows]
    assert len(f1) == 2 and all(0.0 <= v <= 1.0 for v in f1)
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["monitor"] == "val_macro_f1" and state["best"] == pytest.approx(max(f1))
    assert json.loads((out / "run.json").read_text())["monitor"] == "val_macro_f1"
