"""The PTB-XL MI study: ten strat_fold test folds, thresholds from validation, patient bootstrap, ablation controls."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ecgnet_tf import mi_study
from ecgnet_tf import preprocess as pp
from ecgnet_tf.bench.mi_report import _patient_resamples, ablation_verdict, threshold_for_specificity
from ecgnet_tf.runs import ModelSpec
from ecgnet_tf.tasks import get_task, task_records
from ecgnet_tf.tasks.records import ptbxl_cv_folds


def test_cv_folds_use_every_strat_fold_once_as_test():
    tests = []
    for fold in range(10):
        train, val, test = ptbxl_cv_folds(fold)
        assert len(train) == 8 and not set(train) & set(val + test) and val != test
        tests += list(test)
        assert val == ((test[0] % 10) + 1,)
    assert sorted(tests) == list(range(1, 11))
    with pytest.raises(ValueError, match="0..9"):
        ptbxl_cv_folds(10)


def test_stratfold_split_on_the_fake_database(fake_data):
    task = get_task("ptbxl-mi")
    seen = set()
    for fold in (0, 9):
        recs = task_records(task, fake_data, fold=fold, scheme="stratfold-cv")
        s = recs.split
        assert not set(s.test) & set(s.train) and not set(s.val) & set(s.train) and not set(s.test) & set(s.val)
        assert not seen & set(s.test)
        seen |= set(s.test)
    with pytest.raises(ValueError, match="strat_fold"):
        task_records(get_task("cinc2017"), fake_data, scheme="stratfold-cv")


def test_threshold_is_the_lowest_with_the_wanted_specificity():
    rng = np.random.default_rng(0)
    scores = rng.random(200)
    positive = rng.random(200) < 0.3
    t = threshold_for_specificity(scores, positive, 0.9)
    neg = scores[~positive]
    assert np.mean(neg < t) >= 0.9
    lower = np.max(neg[neg < t])  # any lower threshold lets one more negative through
    assert np.mean(neg < lower) < 0.9
    assert threshold_for_specificity(scores, np.ones(200, bool)) == float("inf")


def test_bootstrap_draws_whole_patients():
    patients = np.array(["a", "a", "b", "c", "c", "c"])
    for idx in _patient_resamples(patients, 20, seed=1):
        counts = {p: int(np.sum(patients[idx] == p)) for p in "abc"}
        assert counts["a"] % 2 == 0 and counts["c"] % 3 == 0 and len(idx) == sum(counts.values())


def test_shuffled_priors_are_another_windows_maps():
    prior = np.arange(12, dtype=np.float32).reshape(6, 2)
    out = pp.shuffle_priors(prior, seed=3)
    assert sorted(map(tuple, out.tolist())) == sorted(map(tuple, prior.tolist()))
    assert all((out[i] != prior[i]).any() for i in range(6))
    assert np.array_equal(pp.shuffle_priors(prior[:1]), prior[:1])


def test_ablation_verdict_reads_the_sign_of_each_interval():
    names = {"noguided": "without", "shuffled": "shuffled"}
    worse = ablation_verdict({"noguided": {"delta_ci": [-0.04, -0.003]}, "shuffled": {"delta_ci": [-0.01, 0.02]}}, names)
    assert "**lower** than" in worse and "without" in worse and "shuffled" not in worse
    assert "no measurable benefit" not in worse and "beats none" in worse
    better = ablation_verdict({"noguided": {"delta_ci": [0.001, 0.03]}}, names)
    assert "higher than" in better and "lower" not in better
    none = ablation_verdict({"noguided": {"delta_ci": [-0.01, 0.02]}}, names)
    assert "no measurable benefit" in none


def test_candidate_validation_aucs_pool_each_folds_own_validation_records():
    from ecgnet_tf.bench.mi_report import _only_boosting, _setting_text, candidate_validation_aucs

    settings = [{"model": "boosting", "learning_rate": 0.1, "max_leaf_nodes": 7}, {"model": "forest", "min_samples_leaf": 2}]
    y = [np.array([0, 1, 0, 1], bool), np.array([1, 0, 0], bool)]
    good = [np.array([0.1, 0.9, 0.2, 0.8]), np.array([0.7, 0.3, 0.1])]
    bad = [1 - g for g in good]
    fits = [{"settings": settings, "y_val": yv, "tree_val": [b, g], "tree_test": [b[:1], g[:1]]}
            for yv, g, b in zip(y, good, bad)]
    aucs = candidate_validation_aucs(fits)
    assert [a["model"] for a in aucs] == ["boosting", "forest"]
    assert aucs[0]["pooled_val_auc"] == pytest.approx(0.0) and aucs[1]["pooled_val_auc"] == pytest.approx(1.0)
    only = _only_boosting(fits)
    assert only[0]["settings"] == settings[:1] and np.array_equal(only[1]["tree_val"][0], bad[1])
    assert len(only[0]["tree_test"]) == 1 and len(fits[0]["settings"]) == 2  # the input is left as it was
    assert _setting_text(settings[1]) == "forest, leaf 2" and _setting_text(settings[0]) == "boosting 0.1, 7 leaves"
    assert _setting_text({"learning_rate": 0.05, "max_leaf_nodes": 15}) == "boosting 0.05, 15 leaves"  # older summaries


@pytest.fixture(scope="module")
def study(fake_data, window_cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("mi_study")
    rc = mi_study.main(["--data-dir", str(fake_data), "--root", str(root / "runs"), "--out", str(root / "out"),
                        "--quick", "--folds", "0,1", "--variants", "guided,shuffled,loc", "--bootstrap", "100",
                        "--cache-dir", str(window_cache)])
    assert rc == 0
    return root


@pytest.mark.slow
def test_summary_interface_and_thresholds_from_validation(study):
    s = json.loads((study / "out" / "summary.json").read_text())
    assert {"auc", "auc_ci", "sensitivity", "specificity", "n_records", "guided_ablation"} <= set(s)
    assert {"with", "without"} <= set(s["guided_ablation"]) and s["guided_ablation"]["shuffled_prior"] is not None
    tests = [json.loads((study / "runs" / f"guided-f{f}" / "split.json").read_text())["test"] for f in (0, 1)]
    assert s["n_records"] == len(tests[0]) + len(tests[1]) and not set(tests[0]) & set(tests[1])
    for f in (0, 1):  # each fold's threshold comes from its own validation predictions
        assert (study / "runs" / f"guided-f{f}" / "evaluations" / "val" / "predictions.npz").is_file()
    assert s["localisation"]["classes"].keys() == {"AMI", "IMI", "LMI"}
    report = (study / "out" / "report.md").read_text()
    assert "SMOKE" in report and (study / "out" / "roc.png").is_file()
    # the study's decision is the record model: trees fused with each fold's network, chosen on validation
    rec = s["record_model"]
    assert s["decision"].startswith("record model") and s["auc"] == rec["fused"]["auc"]
    assert s["guided_ablation"]["with"] == s["network"]["auc"] and "trees" in rec
    assert [f["fold"] for f in rec["folds"]] == [0, 1]
    splits = {f: json.loads((study / "runs" / f"guided-f{f}" / "split.json").read_text()) for f in (0, 1)}
    for f in rec["folds"]:  # trees learn from the fold's training records; choices never see its test records
        split = splits[f["fold"]]
        assert f["weight"] in f["config"]["fusion_weights"] and f["n_train"] == len(split["train"]) > 0
        assert f["fold"] in f["choice_folds"]
        for j in f["choice_folds"]:
            assert not set(splits[j]["val"]) & set(split["test"])
    assert rec["folds"][1]["choice_folds"] == [1]  # fold 0's validation strat_fold is fold 1's test
    assert "median-beat trees alone" in report and "fusion weight" in report and "trees chosen" in report
    assert {c["model"] for c in rec["candidate_val_auc"]} == {"boosting", "forest"}
    assert "fused_boosting_only" in rec and "pooled validation AUC" in report
    assert all(f["record_model"]["trees"]["model"] in ("boosting", "forest") for f in s["folds"])
    oof = (study / "out" / "oof_predictions.csv").read_text().splitlines()
    assert oof[0].startswith("record,patient,fold,mi,network,trees,record_model") and len(oof) == s["n_records"] + 1


@pytest.mark.slow
def test_shuffled_variant_records_and_applies_its_prior_mode(study):
    run = study / "runs" / "shuffled-f0"
    assert json.loads((run / "run.json").read_text())["prior_mode"] == "shuffled"
    assert ModelSpec.from_run(run).prior_mode == "shuffled"
    assert ModelSpec.from_run(study / "runs" / "guided-f0").prior_mode == "aligned"


@pytest.mark.slow
def test_tree_fits_are_reused_only_for_the_same_records(study):
    from ecgnet_tf.bench.mi_report import _fold_data, record_model_folds, tree_fits

    data = [_fold_data(study / "runs" / f"guided-f{f}") for f in (0, 1)]
    fits = tree_fits(data, "MI")
    once, _, _ = record_model_folds(data, "MI", fits=fits)
    again, _, _ = record_model_folds(data, "MI")
    assert all(np.array_equal(a["score"], b["score"]) for a, b in zip(once, again))
    shuffled = [_fold_data(study / "runs" / f"shuffled-f{f}") for f in (0, 1)]
    record_model_folds(shuffled, "MI", fits=fits)  # same folds, another network: the trees serve it too
    with pytest.raises(ValueError, match="other records"):
        record_model_folds(data[::-1], "MI", fits=fits)
