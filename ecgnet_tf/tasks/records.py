"""A task's records under a data location: catalogue, labels, patient ids and the audited split."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import cinc2017, mitdb, ptbxl
from ..data.errors import DataError
from ..data.splits import (Split, audit_split, fold_split, kfold_split, mitdb_dechazal, mitdb_ds1_folds,
                           stratified_sample)
from .spec import TaskSpec


#: record split schemes: the task's standard split, record-level K-fold, K-fold inside MIT-BIH DS1
SCHEMES: tuple[str, ...] = ("standard", "kfold", "ds1-cv", "stratfold-cv")
#: PTB-XL's own folds (``strat_fold`` 1..10, patient-grouped by construction) as ten test folds
PTBXL_CV_FOLDS = 10


def ptbxl_cv_folds(fold: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(train, validation, test) ``strat_fold`` values of cross-validation fold ``fold`` (0..9): test
    strat_fold ``fold + 1``, validation the next one (10 wraps to 1), training the other eight."""
    if not 0 <= fold < PTBXL_CV_FOLDS:
        raise ValueError(f"--fold must be in 0..{PTBXL_CV_FOLDS - 1} for --split stratfold-cv, got {fold}")
    test = fold + 1
    val = test % PTBXL_CV_FOLDS + 1
    train = tuple(f for f in range(1, PTBXL_CV_FOLDS + 1) if f not in (test, val))
    return train, (val,), (test,)


@dataclass(frozen=True)
class TaskRecords:
    """The records of a task under a data location, their labels and the split."""

    task: TaskSpec
    split: Split
    label_of: dict[str, object]  # record -> class letter (or tuple of letters when multilabel)
    entry_of: dict[str, object]  # record -> loader handle (PTB-XL entry), when needed


def _dominant_class(classes: np.ndarray) -> str:
    """Rarest AAMI class a record has (its most informative label for stratification)."""
    present = [c for c in ("F", "S", "V", "Q") if c in set(classes.tolist())]
    return present[0] if present else "N"


@dataclass(frozen=True)
class Catalog:
    """Every record of a task present under a data location, with what splitting needs."""

    ids: tuple[str, ...]
    label_of: dict[str, object]  # record -> class letter (tuple of letters when multilabel)
    entry_of: dict[str, object]  # record -> loader handle (PTB-XL entry)
    group_of: dict[str, str]  # record -> patient id
    strat_of: dict[str, str]  # record -> one label for stratified folds
    fold_of: dict[str, int]  # record -> fold given with the data (PTB-XL strat_fold)
    class_counts: dict[str, dict[str, int]] | None = None  # record -> beats per class (beat tasks)


def catalog(task: TaskSpec, data_dir: Path, min_likelihood: float = 0.0) -> Catalog:
    """List the task's records present under ``data_dir`` with labels and patient ids."""
    entry_of: dict[str, object] = {}
    fold_of: dict[str, int] = {}
    class_counts = None
    if task.database == "mitdb":
        ids = mitdb.available_records(data_dir)
        beats = {r: mitdb.read_beats(data_dir, r)[2] for r in ids}
        class_counts = {r: {str(c): int(n) for c, n in zip(*np.unique(b, return_counts=True))} for r, b in beats.items()}
        label_of = {r: _dominant_class(b) for r, b in beats.items()}
        group_of = {r: mitdb.patient_id(r) for r in ids}
        strat_of = dict(label_of)
    elif task.database == "ptbxl":
        entries = ptbxl.read_metadata(data_dir, min_likelihood=min_likelihood)
        if task.name == "ptbxl-mi":
            entries = [e for e in entries if e.group in ("MI", "NORM")]
            label_of = {e.record_id: e.group for e in entries}
        else:
            entries = [e for e in entries if set(e.mi_subclasses) & set(task.classes)]
            label_of = {e.record_id: tuple(c for c in e.mi_subclasses if c in task.classes) for e in entries}
        ids = [e.record_id for e in entries]
        entry_of = {e.record_id: e for e in entries}
        group_of = {e.record_id: e.patient_id for e in entries}
        fold_of = {e.record_id: e.strat_fold for e in entries}
        strat_of = {i: v if isinstance(v, str) else v[0] for i, v in label_of.items()}
    elif task.database == "cinc2017":
        label_of = dict(cinc2017.read_reference(data_dir))
        ids = list(label_of)
        group_of = {i: cinc2017.patient_id(i) for i in ids}
        strat_of = dict(label_of)
    else:  # pragma: no cover - TASKS is closed
        raise ValueError(task.database)
    return Catalog(tuple(ids), label_of, entry_of, group_of, strat_of, fold_of, class_counts)


def task_records(
    task: TaskSpec,
    data_dir: Path,
    seed: int = 0,
    folds: int | None = None,
    fold: int = 0,
    min_likelihood: float = 0.0,
    max_records: int | None = None,
    scheme: str = "standard",
) -> TaskRecords:
    """Enumerate the task's records present under ``data_dir`` and split them (audited).

    Default splits: MIT-BIH de Chazal DS1/DS2 (strict, with validation records carved from DS1),
    PTB-XL strat_fold 1-8/9/10, CinC 2017 stratified 5-fold (fold ``fold`` test). ``folds=K``
    switches MIT-BIH and PTB-XL to stratified record-level K-fold grouped by patient.
    ``max_records`` first keeps a seeded, class-stratified sample of the records (smoke runs).
    ``scheme="ds1-cv"`` (MIT-BIH only): patient-grouped ``folds``-fold cross-validation inside DS1
    (:func:`~ecgnet_tf.data.splits.mitdb_ds1_folds`), for choices that must never see DS2.
    ``scheme="stratfold-cv"`` (PTB-XL only): the ten ``strat_fold`` values as ten test folds
    (:func:`ptbxl_cv_folds`).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown split {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if scheme == "ds1-cv" and task.database != "mitdb":
        raise ValueError(f"--split ds1-cv is cross-validation inside MIT-BIH DS1; {task.name} has no DS1")
    if scheme == "stratfold-cv" and task.database != "ptbxl":
        raise ValueError(f"--split stratfold-cv uses PTB-XL's strat_fold column; {task.name} is not a PTB-XL task")
    cat = catalog(task, data_dir, min_likelihood)
    ids = list(cat.ids)
    note = ()
    if max_records and len(ids) > max_records:
        ids = list(stratified_sample(ids, [cat.strat_of[i] for i in ids], max_records, seed))
        note = (f"seeded sample of {len(ids)} of {len(cat.ids)} records (smoke run)",)
    groups = [cat.group_of[i] for i in ids]
    strat = [cat.strat_of[i] for i in ids]
    if scheme == "ds1-cv":
        split = mitdb_ds1_folds(ids, k=folds or 3, fold=fold, seed=seed, class_counts=cat.class_counts)
    elif scheme == "stratfold-cv":
        tr, va, te = ptbxl_cv_folds(fold)
        split = fold_split(ids, [cat.fold_of[i] for i in ids], groups, tr, va, te,
                           f"strat_fold-cv{PTBXL_CV_FOLDS}-fold{fold}")
    elif task.database == "mitdb" and not folds:
        split = mitdb_dechazal(ids, seed=seed, class_counts=cat.class_counts)
    elif task.database == "ptbxl" and not folds:
        split = fold_split(ids, [cat.fold_of[i] for i in ids], groups, ptbxl.TRAIN_FOLDS, ptbxl.VAL_FOLDS,
                           ptbxl.TEST_FOLDS, "strat_fold")
    else:
        k = folds or 5
        split = kfold_split(ids, strat, groups, k, fold, seed, name=f"{task.database}-records")
    if not split.train or not split.test:
        raise DataError(f"{task.name}: not enough records under {data_dir} for a split "
                        f"(train {len(split.train)}, test {len(split.test)})")
    if note:
        split = Split(split.name, split.train, split.val, split.test, split.patient_of, split.notes + note)
    audit_split(split)
    return TaskRecords(task, split, cat.label_of, cat.entry_of)


def reduce_training_records(split: Split, fraction: float, seed: int) -> Split:
    """Keep a seeded ``fraction`` of the training records (fine-tuning with little target data)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"--train-fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return split
    rng = np.random.default_rng(seed)
    n = max(1, int(round(fraction * len(split.train))))
    keep = tuple(sorted(np.asarray(split.train)[rng.permutation(len(split.train))[:n]].tolist()))
    return Split(split.name + f"-train{fraction:g}", keep, split.val, split.test, split.patient_of,
                 split.notes + (f"training records reduced to {n} of {len(split.train)}",))
