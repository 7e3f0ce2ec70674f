"""Splits are record/patient disjoint, and the audit catches every kind of leak."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ecgnet_tf.data import LeakageError, Split, audit_split, ptbxl
from ecgnet_tf.data.splits import DS1, DS2, fold_split, kfold_split, mitdb_dechazal, stratified_sample


def test_dechazal_strict_is_patient_disjoint():
    split = mitdb_dechazal()
    counts = audit_split(split)
    assert set(split.train) | set(split.val) == set(DS1)
    assert set(split.test) == set(DS2) - {"202"}
    assert counts["val_records"] == 4 and counts["test_records"] == 21
    assert not set(split.train) & set(split.val)


def test_dechazal_original_leaks_subject_201_202():
    with pytest.raises(LeakageError, match="patient 201"):
        audit_split(mitdb_dechazal(strict=False))


def test_dechazal_validation_depends_on_seed_only():
    assert mitdb_dechazal(seed=3).val == mitdb_dechazal(seed=3).val
    assert mitdb_dechazal(seed=3).val != mitdb_dechazal(seed=4).val


@pytest.mark.parametrize("bad", [
    Split("dup-record", train=("a", "b"), val=("b",), test=("c",)),
    Split("dup-patient", train=("a",), val=("b",), test=("c",), patient_of={"a": "p1", "b": "p2", "c": "p1"}),
    Split("twice", train=("a", "a"), val=(), test=("c",)),
])
def test_audit_catches_leaks(bad):
    with pytest.raises(LeakageError):
        audit_split(bad)


def test_kfold_groups_patients_and_covers_everything():
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(60)]
    groups = [f"p{i // 3}" for i in range(60)]  # 3 records per patient
    labels = rng.choice(["N", "A", "O"], size=60).tolist()
    tests = []
    for fold in range(5):
        s = kfold_split(ids, labels, groups, k=5, fold=fold, seed=1)
        audit_split(s)
        assert len(s.train) + len(s.val) + len(s.test) == 60
        tests.extend(s.test)
    assert sorted(tests) == sorted(ids)


def test_ptbxl_strat_fold_split(fake_data):
    entries = ptbxl.read_metadata(fake_data)
    s = fold_split([e.record_id for e in entries], [e.strat_fold for e in entries],
                   [e.patient_id for e in entries], ptbxl.TRAIN_FOLDS, ptbxl.VAL_FOLDS, ptbxl.TEST_FOLDS, "strat_fold")
    counts = audit_split(s)
    assert counts == {"train_records": 32, "train_patients": 16, "val_records": 4, "val_patients": 2,
                      "test_records": 4, "test_patients": 2}


@pytest.mark.realdata
def test_real_ptbxl_folds_are_patient_disjoint(shared_data):
    entries = ptbxl.read_metadata(shared_data)
    s = fold_split([e.record_id for e in entries], [e.strat_fold for e in entries],
                   [e.patient_id for e in entries], ptbxl.TRAIN_FOLDS, ptbxl.VAL_FOLDS, ptbxl.TEST_FOLDS, "strat_fold")
    counts = audit_split(s)
    assert counts["train_records"] + counts["val_records"] + counts["test_records"] == 987


def test_dechazal_validation_keeps_rare_classes_in_training():
    counts = {r: {"N": 2000, "S": 10, "V": 50} for r in DS1}
    counts["208"] = {"N": 1500, "F": 373, "V": 900}  # nearly all DS1 F beats live in one record
    counts["232"] = {}
    for seed in range(5):
        split = mitdb_dechazal(seed=seed, class_counts=counts)
        assert "208" not in split.val and len(split.val) == 4
        audit_split(split)


def test_stratified_sample_is_seeded_and_keeps_every_class():
    ids = [f"r{i:03d}" for i in range(200)]
    labels = ["N"] * 150 + ["A"] * 40 + ["~"] * 10
    a = stratified_sample(ids, labels, 50, seed=3)
    assert a == stratified_sample(ids, labels, 50, seed=3)
    assert a != stratified_sample(ids, labels, 50, seed=4)
    got = Counter(labels[ids.index(i)] for i in a)
    assert got == {"N": 38, "A": 10, "~": 5}  # shares kept, rare class at least 5
    assert list(a) == sorted(a)  # input order kept
    assert stratified_sample(ids, labels, 500) == tuple(ids)


def test_task_records_max_records_samples_before_the_split(fake_data):
    from ecgnet_tf.tasks import get_task, task_records

    full = task_records(get_task("cinc2017"), fake_data, seed=0)
    small = task_records(get_task("cinc2017"), fake_data, seed=0, max_records=20)
    n = lambda s: len(s.train) + len(s.val) + len(s.test)  # noqa: E731
    assert n(full.split) == 24 and n(small.split) == 20
    assert any("seeded sample of 20 of 24" in note for note in small.split.notes)


def test_ds1_cross_validation_never_touches_ds2_and_spreads_s_beats():
    from ecgnet_tf.data.splits import mitdb_ds1_folds

    counts = {r: {"N": 1000, "S": 0, "V": 0} for r in DS1}
    counts.update({"209": {"S": 383}, "207": {"S": 107}, "220": {"S": 94}, "118": {"S": 96}, "223": {"S": 73},
                   "201": {"S": 30}})
    tests = []
    for fold in range(3):
        split = mitdb_ds1_folds(k=3, fold=fold, seed=0, class_counts=counts)
        audit_split(split)
        parts = set(split.train) | set(split.val) | set(split.test)
        assert parts == set(DS1) and not parts & set(DS2)
        assert split.name == f"ds1-cv3-fold{fold}" and split.val
        tests.append(set(split.test))
        # S beats reach every test fold: no fold is left without the class the settings are chosen for
        assert sum(counts[r].get("S", 0) for r in split.test) > 0
    assert set.union(*tests) == set(DS1) and sum(len(t) for t in tests) == len(DS1)
    assert mitdb_ds1_folds(k=3, fold=1, seed=0, class_counts=counts) == mitdb_ds1_folds(
        k=3, fold=1, seed=0, class_counts=counts)
    with pytest.raises(ValueError, match="fold must be"):
        mitdb_ds1_folds(k=3, fold=3)


def test_cinc_five_fold_assignment_is_deterministic_and_disjoint(fake_data):
    """CinC 2017 5-fold CV (train --split kfold --folds 5 --fold I): the same folds on every call, every
    record in exactly one test fold, train / validation / test of each fold disjoint."""
    from ecgnet_tf.tasks import get_task, task_records

    task = get_task("cinc2017")
    splits = [task_records(task, fake_data, seed=0, folds=5, fold=f, scheme="kfold").split for f in range(5)]
    again = [task_records(task, fake_data, seed=0, folds=5, fold=f, scheme="kfold").split for f in range(5)]
    assert [(s.train, s.val, s.test) for s in splits] == [(s.train, s.val, s.test) for s in again]
    tests = [t for s in splits for t in s.test]
    assert sorted(tests) == sorted(set(tests)) and len(tests) == 24  # no record in two folds, none left out
    for f, s in enumerate(splits):
        audit_split(s)
        assert s.val == splits[(f + 1) % 5].test  # validation = the next fold
        assert len(s.train) + len(s.val) + len(s.test) == 24


def test_cinc_duplicate_signals_share_a_fold():
    from ecgnet_tf.data import cinc2017

    ids = sorted({f"A{i:05d}" for i in range(1, 200)} | set(cinc2017.DUPLICATES) | set(cinc2017.DUPLICATES.values()))
    labels = ["NAO~"[i % 4] for i in range(len(ids))]
    groups = [cinc2017.patient_id(i) for i in ids]
    for seed in (0, 1):
        fold_of = {}
        for f in range(5):
            s = kfold_split(ids, labels, groups, k=5, fold=f, seed=seed)
            audit_split(s)
            fold_of.update({r: f for r in s.test})
        assert len(fold_of) == len(ids)
        for dup, orig in cinc2017.DUPLICATES.items():
            assert fold_of[dup] == fold_of[orig]
