"""Record- and patient-level splits, and an audit that proves they do not leak.

Every split maps record ids to partitions ``train`` / ``val`` / ``test`` and carries each record's
patient id; :func:`audit_split` raises :class:`LeakageError` when a record or a patient falls in
two partitions. Statistics (normalisation, SMOTE, thresholds) are fitted on ``train`` only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from . import mitdb

PARTITIONS: tuple[str, ...] = ("train", "val", "test")

#: de Chazal et al. (2004) inter-patient benchmark (paced records 102, 104, 107, 217 excluded).
DS1: tuple[str, ...] = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)
DS2: tuple[str, ...] = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)


class LeakageError(AssertionError):
    """A record or patient appears in more than one partition."""


@dataclass(frozen=True)
class Split:
    """Partition of record ids, with the patient id of every record."""

    name: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    patient_of: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def partition(self, name: str) -> tuple[str, ...]:
        if name not in PARTITIONS:
            raise ValueError(f"unknown partition {name!r}; expected one of {PARTITIONS}")
        return getattr(self, name)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
            "patient_of": dict(self.patient_of),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "Split":
        return cls(
            name=d["name"],
            train=tuple(d["train"]),
            val=tuple(d["val"]),
            test=tuple(d["test"]),
            patient_of=dict(d.get("patient_of", {})),
            notes=tuple(d.get("notes", ())),
        )


def audit_split(split: Split) -> dict[str, int]:
    """Prove that no record and no patient is in two partitions.

    Returns record and patient counts per partition; raises LeakageError otherwise.
    """
    problems: list[str] = []
    counts: dict[str, int] = {}
    seen_record: dict[str, str] = {}
    seen_patient: dict[str, str] = {}
    for part in PARTITIONS:
        ids = split.partition(part)
        if len(set(ids)) != len(ids):
            problems.append(f"{part} lists a record twice")
        patients = set()
        for r in ids:
            if r in seen_record and seen_record[r] != part:
                problems.append(f"record {r} in {seen_record[r]} and {part}")
            seen_record[r] = part
            p = split.patient_of.get(r, r)
            patients.add(p)
            if p in seen_patient and seen_patient[p] != part:
                problems.append(f"patient {p} (record {r}) in {seen_patient[p]} and {part}")
            seen_patient.setdefault(p, part)
        counts[f"{part}_records"] = len(ids)
        counts[f"{part}_patients"] = len(patients)
    if problems:
        raise LeakageError(f"split {split.name!r} leaks: " + "; ".join(sorted(set(problems))))
    return counts


def _seeded_pick(ids: Sequence[str], n: int, seed: int) -> tuple[str, ...]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    return tuple(sorted(ids[i] for i in order[:n]))


def _balanced_val_pick(ids: Sequence[str], n: int, seed: int, class_counts: Mapping[str, Mapping[str, int]],
                       draws: int = 500) -> tuple[str, ...]:
    """Seeded choice of ``n`` validation records that takes as little as possible of any class.

    Among ``draws`` random candidate sets, keep the one whose largest share of a class's beats
    moved to validation is smallest (ties: the first drawn), so no rare class leaves training.
    """
    rng = np.random.default_rng(seed)
    classes = sorted({c for counts in class_counts.values() for c in counts})
    mat = np.array([[class_counts.get(r, {}).get(c, 0) for c in classes] for r in ids], dtype=np.float64)
    totals = np.maximum(mat.sum(axis=0), 1.0)
    best, best_cost = None, np.inf
    for _ in range(draws):
        pick = rng.choice(len(ids), n, replace=False)
        cost = float((mat[pick].sum(axis=0) / totals).max())
        if cost < best_cost:
            best, best_cost = pick, cost
    return tuple(sorted(ids[i] for i in best))


def _carve_validation(ids: Sequence[str], n_val: int | None, seed: int,
                      class_counts: Mapping[str, Mapping[str, int]] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(train, val) of MIT-BIH training records ``ids``: ``n_val`` records (default 4 of every 22, at
    least 1, always leaving one for training) carved for validation, chosen to take as little as
    possible of any class when ``class_counts`` is given, else a seeded random pick."""
    if n_val is None:
        n_val = max(1, round(len(ids) * 4 / 22))
    n_val = min(n_val, max(len(ids) - 1, 0))
    if class_counts is not None and n_val > 0:
        val = _balanced_val_pick(ids, n_val, seed, class_counts)
    else:
        val = _seeded_pick(ids, n_val, seed)
    return tuple(r for r in ids if r not in val), val


def mitdb_dechazal(
    available: Sequence[str] | None = None,
    n_val: int | None = None,
    seed: int = 0,
    strict: bool = True,
    class_counts: Mapping[str, Mapping[str, int]] | None = None,
) -> Split:
    """de Chazal DS1 (train, with ``n_val`` records carved out for validation) vs DS2 (test).

    ``n_val`` defaults to 4 of DS1's 22 records (scaled down on smaller copies). With
    ``class_counts`` (record -> beats per class) the validation records are chosen so that as
    little as possible of any class leaves training (record 208 alone holds most DS1 F beats);
    without it they are a seeded random pick.

    The published DS1/DS2 lists put record 201 in DS1 and 202 in DS2, but both come from the same
    subject. With ``strict=True`` (default) 202 is dropped from the test set so that no subject
    is on both sides; ``strict=False`` reproduces the literature's split and the audit fails on it.
    """
    avail = set(available) if available is not None else set(mitdb.RECORDS)
    ds1 = [r for r in DS1 if r in avail]
    ds2 = [r for r in DS2 if r in avail]
    notes = []
    if strict and "201" in ds1 and "202" in ds2:
        ds2.remove("202")
        notes.append("record 202 dropped from DS2: same subject as 201 in DS1")
    train, val = _carve_validation(ds1, n_val, seed, class_counts)
    records = list(ds1) + list(ds2)
    return Split(
        name="dechazal" if strict else "dechazal-original",
        train=train,
        val=val,
        test=tuple(ds2),
        patient_of={r: mitdb.patient_id(r) for r in records},
        notes=tuple(notes),
    )


def mitdb_ds1_folds(
    available: Sequence[str] | None = None,
    k: int = 3,
    fold: int = 0,
    seed: int = 0,
    class_counts: Mapping[str, Mapping[str, int]] | None = None,
    n_val: int | None = None,
) -> Split:
    """Patient-grouped K-fold cross-validation **inside DS1** (DS2 is never touched).

    For choosing balancing, thresholds or class priors without looking at DS2: DS1's records are
    dealt into ``k`` folds (fold ``fold`` is the test partition) so that the supraventricular (S),
    then ventricular (V) beats spread evenly: records sorted by S count, then V count (descending),
    are dealt in a snake order (0..k-1, k-1..0, ...), ties broken by a seeded shuffle. From the
    remaining records ``n_val`` (default: 4/22 of them) are carved for validation as in
    :func:`mitdb_dechazal`. Records 201 and 202 are one subject; 202 is not in DS1, so every DS1
    record is its own patient.
    """
    avail = set(available) if available is not None else set(mitdb.RECORDS)
    ds1 = [r for r in DS1 if r in avail]
    if k < 2 or k > len(ds1):
        raise ValueError(f"DS1 cross-validation needs 2 <= folds <= {len(ds1)} records, got {k}")
    if not 0 <= fold < k:
        raise ValueError(f"fold must be in 0..{k - 1}, got {fold}")
    counts = class_counts or {}
    rng = np.random.default_rng(seed)
    shuffled = [ds1[i] for i in rng.permutation(len(ds1))]
    order = sorted(shuffled, key=lambda r: (-counts.get(r, {}).get("S", 0), -counts.get(r, {}).get("V", 0)))
    snake = [i if (j // k) % 2 == 0 else k - 1 - i for j, i in enumerate(list(range(k)) * (len(order) // k + 1))]
    test = tuple(sorted(r for r, f in zip(order, snake) if f == fold))
    rest = [r for r in ds1 if r not in test]
    train, val = _carve_validation(rest, n_val, seed, class_counts)
    return Split(
        name=f"ds1-cv{k}-fold{fold}",
        train=train,
        val=val,
        test=test,
        patient_of={r: mitdb.patient_id(r) for r in ds1},
        notes=(f"cross-validation inside DS1: fold {fold} of {k} is the test partition; DS2 unused",),
    )


def kfold_split(
    ids: Sequence[str],
    labels: Sequence[str],
    groups: Sequence[str],
    k: int,
    fold: int,
    seed: int = 0,
    name: str = "kfold",
) -> Split:
    """Stratified, grouped K-fold: fold ``fold`` is test, fold ``fold+1`` validation, rest train.

    ``groups`` are patient ids: all records of a patient land in the same fold.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if not 0 <= fold < k:
        raise ValueError(f"fold must be in 0..{k - 1}, got {fold}")
    if k < 3:
        raise ValueError("k-fold needs k >= 3 (one fold test, one validation, the rest training)")
    ids = list(ids)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    fold_of = np.empty(len(ids), dtype=np.int64)
    for f, (_, test_idx) in enumerate(splitter.split(np.zeros(len(ids)), list(labels), list(groups))):
        fold_of[test_idx] = f
    val_fold = (fold + 1) % k
    part = lambda f: tuple(i for i, g in zip(ids, fold_of) if g == f)  # noqa: E731
    train = tuple(i for i, g in zip(ids, fold_of) if g not in (fold, val_fold))
    return Split(
        name=f"{name}{k}-fold{fold}",
        train=train,
        val=part(val_fold),
        test=part(fold),
        patient_of=dict(zip(ids, groups)),
    )


def fold_split(
    ids: Sequence[str],
    folds: Sequence[int],
    groups: Sequence[str],
    train_folds: Sequence[int],
    val_folds: Sequence[int],
    test_folds: Sequence[int],
    name: str,
) -> Split:
    """Split by a fold column given with the data (PTB-XL ``strat_fold``)."""
    pick = lambda wanted: tuple(i for i, f in zip(ids, folds) if f in set(wanted))  # noqa: E731
    return Split(
        name=name,
        train=pick(train_folds),
        val=pick(val_folds),
        test=pick(test_folds),
        patient_of=dict(zip(ids, groups)),
    )


def stratified_sample(ids: Sequence[str], labels: Sequence[str], n: int, seed: int = 0) -> tuple[str, ...]:
    """A seeded sample of about ``n`` record ids that keeps every label's share (smoke runs).

    Each label keeps ``round(n * share)`` records and at least ``min(count, 5)``, so rare classes
    stay present. Returns ids in their input order; all of them when ``n >= len(ids)``.
    """
    ids, labels = list(ids), list(labels)
    if n <= 0:
        raise ValueError(f"sample size must be positive, got {n}")
    if n >= len(ids):
        return tuple(ids)
    rng = np.random.default_rng(seed)
    keep: set[str] = set()
    for lab in sorted(set(labels)):
        members = [i for i, y in zip(ids, labels) if y == lab]
        k = min(len(members), max(5, int(round(n * len(members) / len(ids)))))
        keep.update(members[j] for j in rng.permutation(len(members))[:k])
    return tuple(i for i in ids if i in keep)
