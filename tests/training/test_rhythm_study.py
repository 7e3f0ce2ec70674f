"""The CinC 2017 rhythm study end to end on the fake database: folds, record models, the generated report."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from ecgnet_tf import evaluate, rhythm_study
from ecgnet_tf.bench import rhythm_report
from ecgnet_tf.training.record_stage import fit_run_record_model

FOLDS = 3


@pytest.fixture(scope="module")
def study(fake_data, window_cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("rhythm_study")
    rc = rhythm_study.main(["--data-dir", str(fake_data), "--root", str(root / "runs"), "--out", str(root / "out"),
                            "--monitor-out", str(root / "monitor"), "--quick", "--folds", str(FOLDS),
                            "--cache-dir", str(window_cache)])
    assert rc == 0
    return root


@pytest.mark.slow
def test_summary_has_the_checked_interface_and_comes_from_the_runs(study):
    s = json.loads((study / "out" / "summary.json").read_text())
    assert len(s["folds"]) == FOLDS and {"challenge_f1", "A_f1"} <= set(s["mean"])
    per_run = [json.loads((study / "runs" / f"f{f}" / "record_model" / "metrics.json").read_text())
               for f in range(FOLDS)]
    assert s["mean"]["challenge_f1"] == pytest.approx(np.mean([m["challenge_f1"] for m in per_run]))
    assert s["mean"]["A_f1"] == pytest.approx(np.mean([m["per_class"]["A"]["f1"] for m in per_run]))
    assert s["n_test_records"] == s["n_records"] == sum(m["n_records"] for m in per_run)
    assert s["profile"] == "quick" and "SMOKE" in (study / "out" / "report.md").read_text()
    assert (study / "out" / "cinc2017.png").stat().st_size > 0
    net = json.loads((study / "runs" / "f0" / "metrics.json").read_text())
    assert "challenge_f1" in net and {"f1"} <= set(net["per_class"]["A"])  # the train command's interface


@pytest.mark.slow
def test_record_model_experiments_are_fitted_beside_the_decision_and_tabled(study):
    """The variants stage: every fold gets each experiment's record model in its own folder, the run's
    decision (record_model/) is untouched, and the report's table means come from those folders."""
    s = json.loads((study / "out" / "summary.json").read_text())
    names = [e["name"] for e in s["experiments"]]
    assert names[0].startswith("record model") and set(rhythm_study.record_model_variants()) <= set(names[1:])
    for e in s["experiments"][1:]:
        rows = [json.loads((study / "runs" / f"f{f}" / e["folder"] / "metrics.json").read_text())
                for f in range(FOLDS)]
        assert e["challenge_f1"] == pytest.approx(np.mean([r["challenge_f1"] for r in rows]))
        assert e["val_f1"] == pytest.approx(np.mean([r["selection"]["chosen"]["val_f1"] for r in rows]))
    fewer = next(e for e in s["experiments"] if e["name"] == "without-rr-structure-unweighted")
    assert fewer["n_features"] == 31 and fewer["class_weights"] == [None]
    assert "Record-model experiments" in (study / "out" / "report.md").read_text()


@pytest.mark.slow
def test_a_record_in_two_test_folds_is_refused(study, tmp_path):
    runs = [tmp_path / f"f{f}" for f in range(FOLDS)]
    for f, r in enumerate(runs):
        shutil.copytree(study / "runs" / f"f{f}", r)
    split = json.loads((runs[1] / "split.json").read_text())
    rid = json.loads((runs[0] / "split.json").read_text())["test"][0]
    for part in ("train", "val"):
        split[part] = [r for r in split[part] if r != rid]
    split["test"].append(rid)
    (runs[1] / "split.json").write_text(json.dumps(split))
    with pytest.raises(ValueError, match="test record of both"):
        rhythm_report.check_folds(runs)


@pytest.mark.slow
def test_test_labels_never_reach_the_record_model(study, fake_data, tmp_path):
    """Relabelling the test fold changes the scores but not a single decision: the record model is
    fitted on training and validation records only."""
    run = tmp_path / "f0"
    shutil.copytree(study / "runs" / "f0", run)
    shutil.rmtree(run / "record_model")
    data = tmp_path / "data"
    shutil.copytree(fake_data / "cinc2017", data / "cinc2017")
    test = set(json.loads((run / "split.json").read_text())["test"])
    rows = list(csv.reader(open(data / "cinc2017" / "REFERENCE.csv")))
    flip = {"N": "A", "A": "O", "O": "~", "~": "N"}
    with open(data / "cinc2017" / "REFERENCE.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([(r, flip[c] if r in test else c) for r, c in rows])
    m = fit_run_record_model(run, cache_dir=tmp_path / "cache", data_dir=data, log=lambda s: None)
    with np.load(study / "runs" / "f0" / "record_model" / "predictions.npz") as a, \
            np.load(run / "record_model" / "predictions.npz") as b:
        assert a["record"].tolist() == b["record"].tolist()
        assert np.allclose(a["probs"], b["probs"]) and not np.array_equal(a["y"], b["y"])
    assert m["n_records"] == len(test)


@pytest.mark.slow
def test_evaluate_uses_the_record_model_on_a_records_file(study, fake_data, window_cache, tmp_path):
    ids = json.loads((study / "runs" / "f0" / "split.json").read_text())["test"][:4]
    f = tmp_path / "ids.txt"
    f.write_text("\n".join(ids) + "\n")
    rc = evaluate.main([str(study / "runs" / "f0"), "--data-dir", str(fake_data), "--records-file", str(f),
                        "--out", str(tmp_path / "ev"), "--cache-dir", str(window_cache)])
    assert rc == 0
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["decision"] == "record_model" and m["n_records"] == 4
    assert "challenge_f1" in m and "A" in m["network_alone"]["per_class_f1"]


@pytest.mark.slow
def test_monitor_stage_uses_smoothing_chosen_on_validation(study):
    for f in range(FOLDS):
        chosen = json.loads((study / "runs" / f"f{f}" / "af_smoothing.json").read_text())
        assert chosen["source"].startswith("validation records") and set(chosen["smoothing"]) == {
            "smooth_windows", "af_threshold", "max_gap_windows", "min_episode_windows", "context_s"}
        # the network's smoothing and the record model on 15 / 30 s of stream, scored on the same streams
        assert set(chosen["alternatives"]) == {"network", "context 15 s", "context 30 s"}
        assert chosen["alternatives"]["network"]["smoothing"]["context_s"] is None
    smoothed = json.loads((study / "monitor" / "cinc2017-edge-rhythm-non-af" / "af_benchmark.json").read_text())
    plain = json.loads((study / "monitor" / "cinc2017-edge-rhythm-unsmoothed-non-af" / "af_benchmark.json").read_text())
    ref = json.loads((study / "runs" / "f0" / "af_smoothing.json").read_text())["smoothing"]
    assert smoothed["smoothing"] == ref and plain["smoothing"] is None
    net = json.loads((study / "monitor" / "cinc2017-edge-rhythm-network-smoothing-non-af" / "af_benchmark.json").read_text())
    alternatives = json.loads((study / "runs" / "f0" / "af_smoothing.json").read_text())["alternatives"]
    assert net["smoothing"] == alternatives["network"]["smoothing"]
    assert not (study / "monitor" / "cinc2017-edge-rhythm-non-af" / "records").exists()  # summaries only
    s = json.loads((study / "out" / "summary.json").read_text())
    assert s["monitor"]["reference_run_smoothing"]["smoothing"] == ref
