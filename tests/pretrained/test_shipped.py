"""The shipped pretrained models: checksums, cards that equal the generated results files, loading
without any training data, and the README's first command on the synthetic sample."""
from __future__ import annotations

import json

import pytest

from ecgnet_tf import analyze, models
from ecgnet_tf.pretrained import available, load, verify
from ecgnet_tf.samples import SAMPLE_PATH
from repo_paths import REPO

SHIPPED = ("beats", "rhythm")
RESULTS = {"beats": "docs/results/mitdb/runs/final-s0/metrics.json",
           "rhythm": "docs/results/cinc2017/runs/f0/metrics.json"}
MAX_BYTES = 4_200_000  # "at most ~4 MB per task"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_checksum_card_and_size(name):
    m = load(name)
    assert m.folder == verify(name)
    card = m.card
    assert card["task"] == m.task and card["name"] == name
    assert card["int8"]["size_bytes"] == (m.folder / "model_int8.tflite").stat().st_size <= 1_000_000
    assert m.size_bytes <= MAX_BYTES
    assert card["intended_use"].count("Not a medical device") == 1
    for k in ("leads", "fs_hz", "units", "window_s", "preprocess_hash"):
        assert card["input"][k] is not None
    # the card's test metrics are the run's own, as published in the generated results files
    published = json.loads((REPO / RESULTS[name]).read_text())
    test = card["metrics"]["test"]
    assert test["accuracy"] == pytest.approx(published["accuracy"], abs=1e-12)
    assert test["n"] == published["n"]
    for c, d in test["per_class"].items():
        assert d["f1"] == pytest.approx(published["per_class"][c]["f1"], nan_ok=True, abs=1e-12)
    # no path of the publishing machine is shipped
    run = json.loads((m.folder / "run.json").read_text())
    assert run["data_dir"] is None and json.loads((m.folder / "model_int8.json").read_text())["metadata"]["run_dir"] is None
    assert card["metrics"]["study"] is not None


def test_models_command_lists_them(capsys):
    assert models.main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(SHIPPED) == [m.name for m in available()]
    for r in rows:
        assert set(r) >= {"name", "task", "size_bytes", "metrics"} and r["size_bytes"] > 100_000


@pytest.mark.slow
def test_readme_first_command_on_the_sample_without_any_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ECGNET_DATA", str(tmp_path / "no-data-here"))
    out = tmp_path / "O"
    assert analyze.main([str(SAMPLE_PATH), "--out", str(out), "--reference-annotations", "atr"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert (out / "report.html").is_file()
    assert rep["af_episode_count"] >= 1 and rep["episode_sensitivity"] == 1.0  # the sample's two AF episodes
    assert rep["routing"]["overall"]["decision"] == "AF"
    beats = (out / "beats.csv").read_text().splitlines()
    assert len(beats) > 300 and any(",V," in b or b.endswith(",V") for b in beats)
    out2 = tmp_path / "O2"
    assert analyze.main([str(SAMPLE_PATH), "--model", "rhythm", "--out", str(out2)]) == 0
    assert (out2 / "report.html").is_file()


@pytest.mark.realdata
def test_evaluate_by_name_writes_outside_the_package(shared_data, tmp_path, monkeypatch, capsys):
    from ecgnet_tf import evaluate

    monkeypatch.chdir(tmp_path)
    before = {p.name: p.stat().st_mtime for p in verify("beats").iterdir()}
    assert evaluate.main(["beats", "--data-dir", str(shared_data), "--records", "100"]) == 0
    m = json.loads((tmp_path / "beats_evaluation" / "metrics.json").read_text())
    assert m["n_records"] == 1 and m["n"] > 2000 and m["accuracy"] > 0.9
    assert {p.name: p.stat().st_mtime for p in verify("beats").iterdir()} == before


@pytest.mark.slow
def test_train_init_from_a_pretrained_name(trained_run):
    run = trained_run("mitdb-aami", "edge-rr", "--init-from", "beats")
    cfg = json.loads((run / "run.json").read_text())
    assert cfg["init_from"].endswith("pretrained/beats")


def test_benchmark_by_name(tmp_path):
    from ecgnet_tf.export import benchmark

    out = tmp_path / "b.json"
    assert benchmark.main(["beats", "--runs", "3", "--warmup", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["model"].endswith("pretrained/beats/model_int8.tflite") and res["p50_ms"] > 0
    assert benchmark.main(["nothing-by-that-name"]) == 2
