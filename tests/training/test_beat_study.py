"""The MIT-BIH beat study end to end on the fake database: DS1 cross-validation chooses, DS2 only reports."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgnet_tf import beat_study, evaluate
from ecgnet_tf.data.splits import DS1, DS2


@pytest.fixture(scope="module")
def study(fake_data, window_cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("beat_study")
    rc = beat_study.main(["--data-dir", str(fake_data), "--root", str(root / "runs"), "--out", str(root / "out"),
                          "--quick", "--candidates", "rr-under", "--seeds", "0", "--folds", "2",
                          "--cache-dir", str(window_cache)])
    assert rc == 0
    return root


@pytest.mark.slow
def test_choices_are_made_inside_ds1_only(study):
    for fold in range(2):
        split = json.loads((study / "runs" / f"cv-rr-under-f{fold}" / "split.json").read_text())
        records = set(split["train"]) | set(split["val"]) | set(split["test"])
        assert records <= set(DS1) and not records & set(DS2), split
    sel = json.loads((study / "runs" / "selection.json").read_text())
    assert sel["candidate"] == "rr-under" and len(sel["class_scale"]) == 5
    final = json.loads((study / "runs" / "final-s0" / "run.json").read_text())
    assert final["class_scale"] == sel["class_scale"] and final["balance"]["mode"] == "undersample"
    merged = sel["class_merge"] is not None and any(d != i for i, d in enumerate(sel["class_merge"]))
    assert final["class_merge"] == (sel["class_merge"] if merged else None)
    assert set(sel["candidates"]["rr-under"]["rule_options"]) == {"keep", "F->N", "F->S", "F->V"}
    assert final["config"] == "edge-rr"
    # the feature head's weight was chosen on the same out-of-fold predictions, and the final run carries it
    cand = sel["candidates"]["rr-under"]
    assert set(cand["feature_head_scores"]) == {"0.0", "0.1", "0.2", "0.3", "0.5"}
    assert cand["score"] == max(cand["feature_head_scores"].values())
    assert all(f["head_rows"] > 0 for f in cand["folds"])
    if sel["feature_head"] is None:
        assert final["feature_head"] is None
    else:
        assert final["feature_head"]["weight"] == sel["feature_head"]["weight"] > 0
        assert (study / "runs" / "final-s0" / "network.keras").is_file()


@pytest.mark.slow
def test_final_run_reports_every_mode_with_the_checked_interface(study, fake_data):
    run = study / "runs" / "final-s0"
    m = json.loads((run / "metrics.json").read_text())
    assert m["ds2_variant"] == "strict21" and "202" not in json.loads((run / "split.json").read_text())["test"]
    for c in ("S", "V"):
        assert {"sensitivity", "ppv"} <= set(m["per_class"][c])
    pred = np.load(run / "predictions.npz")
    assert pred["probs"].shape == (m["n"], 5) and len(pred["record"]) == m["n"]
    pub = json.loads((run / "evaluations" / "ds2-published22" / "metrics.json").read_text())
    assert pub["ds2_variant"] == "published22" and pub["n_records"] == m["n_records"] + 1
    e2e = json.loads((run / "evaluations" / "end-to-end" / "metrics.json").read_text())
    block = e2e["end_to_end"]
    for c in ("S", "V"):
        assert set(block[c]) == {"sensitivity", "ppv", "fpr"}
    assert all(isinstance(block[k], int) for k in ("matched", "missed", "extra"))
    assert e2e["ds2_variant"] == "strict21" and block["qrs"]["sensitivity"] > 0.95  # clean synthetic beats
    assert block["matched"] + block["missed"] == sum(r["matched"] + r["missed"] for r in e2e["per_record"].values())


@pytest.mark.slow
def test_summary_is_generated_from_the_runs(study):
    out = study / "out"
    s = json.loads((out / "summary.json").read_text())
    assert s["ds2_variant"] == "strict21" and s["seeds"] == [0] and s["profile"] == "quick"
    m = json.loads((study / "runs" / "final-s0" / "metrics.json").read_text())
    for c in ("S", "V"):
        for k in ("sensitivity", "ppv"):
            want = m["per_class"][c][k]
            assert (np.isnan(want) and np.isnan(s["mean"][c][k])) or s["mean"][c][k] == pytest.approx(want)
    assert s["mean"]["accuracy"] == pytest.approx(m["accuracy"])
    assert set(s["end_to_end"]["mean"]["V"]) == {"sensitivity", "ppv", "fpr"}
    text = (out / "report.md").read_text()
    assert "Smoke profile" in text and "Published inter-patient results" in text and "rr-under" in text
    assert (out / "beats.png").stat().st_size > 1000
    assert (out / "runs" / "final-s0" / "end-to-end" / "metrics.json").is_file()


@pytest.mark.slow
def test_selection_refuses_runs_that_are_not_ds1_cross_validation(study, trained_run):
    from ecgnet_tf.bench.beat_report import select_candidate

    with pytest.raises(ValueError, match="not cross-validation inside DS1"):
        select_candidate({"x": [trained_run("mitdb-aami", "edge-rr")]})


@pytest.mark.slow
def test_end_to_end_never_writes_into_the_run_and_options_are_checked(study, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(study / "runs" / "final-s0", run, ignore=shutil.ignore_patterns("evaluations"))
    before = (run / "metrics.json").read_bytes()
    assert evaluate.main([str(run), "--end-to-end", "--out", str(run)]) == 2
    assert "end-to-end figures go to their own folder" in capsys.readouterr().err
    assert evaluate.main([str(run), "--end-to-end", "--out", str(tmp_path / "e2e"), "--records", "100"]) == 0
    assert json.loads((tmp_path / "e2e" / "metrics.json").read_text())["records"] == ["100"]
    assert evaluate.main([str(run), "--ds2", "published22", "--records", "100"]) == 2
    assert "not both" in capsys.readouterr().err
    assert (run / "metrics.json").read_bytes() == before


@pytest.mark.slow
def test_a_new_decision_rule_reevaluates_the_trained_model_without_retraining(study, fake_data, tmp_path):
    run = tmp_path / "final"
    shutil.copytree(study / "runs" / "final-s0", run)
    model = (run / "model.keras").read_bytes()
    probs = np.load(run / "predictions.npz")["probs"]
    rule = ([1.0, 2.0, 1.0, 1.0, 1.0], [0, 1, 2, 0, 4])
    assert beat_study.redecide(run, *rule, fake_data, None)
    cfg = json.loads((run / "run.json").read_text())
    assert (cfg["class_scale"], cfg["class_merge"]) == rule
    assert (run / "model.keras").read_bytes() == model and not (run / "evaluations").exists()
    np.testing.assert_array_equal(np.load(run / "predictions.npz")["probs"], probs)
    m = json.loads((run / "metrics.json").read_text())
    y = np.load(run / "predictions.npz")["y"]
    merged = probs.astype(np.float64).copy()
    merged[:, 0] += merged[:, 3]
    merged[:, 3] = 0.0
    decided = np.argmax(merged * np.array(rule[0]), axis=1)
    assert 3 not in decided and m["accuracy"] == pytest.approx(np.mean(decided == y))
    assert not beat_study.redecide(run, *rule, fake_data, None)  # same rule: nothing to do
    assert beat_study.merge_argument(rule[1], ["N", "S", "V", "F", "Q"]) == "F:N"
    assert beat_study.merge_argument([0, 1, 2, 3, 4], ["N", "S", "V", "F", "Q"]) is None


@pytest.mark.slow
def test_final_runs_of_another_candidate_are_refused_not_reused(study):
    run = study / "runs" / "final-s0"
    assert beat_study.candidate_mismatch(run, "rr-under") == []
    assert beat_study.candidate_mismatch(run, "rrt-under") == ["config 'edge-rr' (selection wants 'edge-rrt')"]
    assert beat_study.candidate_mismatch(run, "rr-under-wce") == ["loss 'focal' (selection wants 'weighted_ce')"]
    assert beat_study.candidate_mismatch(study / "runs" / "nothing-yet", "rrt-under") == []


@pytest.mark.slow
def test_select_stage_compares_candidates_without_reading_ds2(study, fake_data, window_cache, tmp_path):
    out = tmp_path / "select"
    rc = beat_study.main(["--data-dir", str(fake_data), "--root", str(study / "runs"), "--out", str(out),
                          "--stages", "select", "--candidates", "rr-under", "--folds", "2",
                          "--cache-dir", str(window_cache)])
    assert rc == 0
    text = (out / "selection.md").read_text()
    sel = json.loads((out / "selection.json").read_text())
    assert "| rr-under | edge-rr | undersample |" in text and "DS2 is not" in text
    assert "`rrtc-under`" in text and "`rrt-under`" in text  # the study's candidates left out are named
    assert sel["candidate"] == "rr-under" and "rrtc-under" in sel["not_rerun"]
    assert not (out / "summary.json").exists() and not (out / "report.md").exists()
    assert beat_study.main(["--stages", "bogus", "--root", str(study / "runs"), "--out", str(out)]) == 2


@pytest.mark.slow
def test_several_cv_seeds_are_scored_per_seed_and_must_cover_the_same_records(study, tmp_path):
    from ecgnet_tf.bench.beat_report import candidate_section, select_candidate

    assert beat_study.cv_name("rr-under", 1) == "cv-rr-under-f1"
    assert beat_study.cv_name("rr-under", 1, 2) == "cv-rr-under-f1-s2"
    runs = [study / "runs" / f"cv-rr-under-f{f}" for f in range(2)]
    copies = []
    for run in runs:  # a second seed: same folds, other predictions (a perfect model: one-hot of the labels)
        dst = tmp_path / (run.name + "-s1")
        shutil.copytree(run, dst)
        cfg = json.loads((dst / "run.json").read_text())
        (dst / "run.json").write_text(json.dumps({**cfg, "seed": 1}))
        pred = dict(np.load(dst / "predictions.npz", allow_pickle=True))
        pred["probs"] = np.eye(pred["probs"].shape[1], dtype=pred["probs"].dtype)[pred["y"]]
        np.savez(dst / "predictions.npz", **pred)
        copies.append(dst)
    one = select_candidate({"rr-under": runs})["candidates"]["rr-under"]
    two = select_candidate({"rr-under": runs + copies})["candidates"]["rr-under"]
    assert one["seeds"] == [0] and one["score_std"] == 0.0 and set(one["score_seeds"]) == {"0"}
    assert two["seeds"] == [0, 1] and two["n_beats"] == 2 * one["n_beats"]
    assert two["score"] == pytest.approx(np.mean(list(two["score_seeds"].values())))
    assert two["score_std"] > 0 and two["score_seeds"]["1"] > two["score_seeds"]["0"]
    text = "\n".join(candidate_section({"candidate": "rr-under", "criterion": "c", "classes": list("NSVFQ"),
                                        "candidates": {"rr-under": two}}))
    assert "2 patient-grouped folds, 2 training seeds per fold" in text and "(2 seeds)" in text
    with pytest.raises(ValueError, match="seeds' folds hold different records"):
        select_candidate({"rr-under": runs + copies[:1]})
    with pytest.raises(ValueError, match="--cv-seeds must name"):
        beat_study.parse_seeds("1,1", "--cv-seeds")


@pytest.mark.slow
def test_feature_head_is_fitted_on_training_records_and_fused_into_the_model(study, fake_data, window_cache,
                                                                             tmp_path):
    from ecgnet_tf.runs import ModelSpec, load_model, load_split
    from ecgnet_tf.tasks import iter_windows
    from ecgnet_tf.training.evaluation import predict_stream, run_records
    from ecgnet_tf.training.feature_head import (FeatureHeadConfig, apply_feature_head, beat_rows, fit_run_head,
                                                 fuse)

    run = tmp_path / "final"
    shutil.copytree(study / "runs" / "final-s0", run)
    apply_feature_head(run, None, fake_data, window_cache)  # whatever the study chose: start from the network
    split = load_split(run)
    memo: dict = {}
    head, n_rows = fit_run_head(run, fake_data, window_cache, memo=memo)
    (ids, *_), = memo.keys()
    assert set(ids) == set(split.train) | set(split.val) and not set(ids) & (set(split.test) | set(DS2))
    setting = {"weight": 0.3, "config": FeatureHeadConfig().to_dict()}
    network = load_model(run / "model.keras")
    assert apply_feature_head(run, setting, fake_data, window_cache)
    assert not apply_feature_head(run, setting, fake_data, window_cache)  # same setting: nothing to do
    cfg = json.loads((run / "run.json").read_text())
    assert cfg["feature_head"]["weight"] == 0.3 and cfg["feature_head"]["n_rows"] == n_rows
    spec = ModelSpec.from_run(run)
    trecs = run_records(run, fake_data)

    def probs(model):
        parts = iter_windows(trecs, fake_data, list(split.test), spec.preprocess, cache_dir=window_cache,
                             max_per_record=cfg["eval_max_per_record"], seed=cfg["seed"], morph=False)
        return predict_stream(spec, model, parts)[1]

    x_test, _ = beat_rows(run, list(split.test), fake_data, window_cache, cfg["eval_max_per_record"])
    want = fuse(probs(network), head.log_probs(x_test), 0.3)
    np.testing.assert_allclose(probs(load_model(run / "model.keras")), want, atol=1e-4)
    assert apply_feature_head(run, None, fake_data, window_cache)  # back to the network alone
    assert json.loads((run / "run.json").read_text())["feature_head"] is None
    restored = load_model(run / "model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(restored, network.get_weights()))
