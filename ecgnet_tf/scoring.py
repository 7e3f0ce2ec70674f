"""ANSI/AAMI EC57-style beat-by-beat ("bxb") comparison of a test annotation against a reference.

All beat positions are **sample indices** (at the record's sampling rate ``fs`` in Hz); times such as
the matching tolerance are in **seconds** and converted with ``fs``. Only numpy is needed.

    m = match_beats(ref_samples, test_samples, fs)             # one-to-one beat matching
    r = bxb(ref_samples, ref_labels, test_samples, test_labels, fs, skip=[(start, end)])
    r.to_dict()                                                # one record, JSON-safe
    gross([r1, r2, ...]); average([r1, r2, ...])              # EC57 totals over records

Matching rule (``match_beats``)
    A reference beat at sample ``r`` and a test beat at sample ``t`` may be paired when
    ``|t - r| <= tolerance_s * fs`` (inclusive: at 360 Hz the default 150 ms is 54 samples, so a
    54-sample offset matches and a 55-sample one does not). All such candidate pairs are taken
    closest first; pairs at equal distance are taken in time order (earlier reference beat first,
    then earlier test beat). A pair is skipped when either beat is already matched, or when it would
    cross an accepted pair (matching keeps time order: if reference a precedes reference b, a's test
    beat precedes b's). So when two test beats fall near one reference beat the closer one is
    matched and the other is an extra beat, and on an exact tie the earlier test beat wins; when one
    test beat lies between two reference beats it goes to the closer one (the earlier one on a tie).
    The result is maximal (no unmatched reference beat and unmatched test beat within the tolerance
    could still be paired without breaking time order), though in crowded pathological cases (beats
    closer together than the tolerance) not necessarily the largest possible matching.

Confusion matrix (``bxb``)
    Rows are reference labels, columns test labels, over ``classes + ("-",)``; "-" means "no beat":
    a missed reference beat is counted in column "-", an extra test beat in row "-". The "-"/"-"
    cell is always 0. Every label must be one of ``classes``.

EC57 counts for one ectopic class ``c`` ("S" for SVEB, "V" for VEB), our reading of EC57, chosen
and fixed here (``Nv`` = reference N labelled V, ``V-`` = reference V missed, ``-v`` = extra test
beat labelled V, and so on):

    TP = cc                        reference c labelled c
    FN = c* (any other label) + c-   reference c labelled otherwise, or missed
    FP = *c for reference rows other than c, F (VEB only) and Q, plus -c
         i.e. VEB: FP = Nv + Sv + -v ;  SVEB: FP = Ns + Vs + Fs + -s
    TN = matched beats of those same counted reference rows labelled anything but c
         i.e. VEB: TN = N and S rows, columns other than v ;  SVEB: N, V, F rows, columns other than s

    The exclusions (``ec57=True``, the default): reference Q beats (unclassifiable: no truth to be
    wrong against) count in no FP and no TN; reference F beats (fusion of ventricular and normal)
    labelled V are not a VEB false positive, so the F row is left out of the VEB FP and TN (it still
    counts for SVEB). Test labels F and Q are ordinary "not c" labels (a reference V labelled Q is a
    VEB false negative). With ``ec57=False`` nothing is excluded: FP is every test-c beat whose
    reference is not c (extra beats included) and TN every other matched beat not labelled c.

    Se = TP / (TP + FN), +P = TP / (TP + FP), FPR = FP / (TN + FP).
    QRS detection (labels ignored): Se = matched / (matched + missed), +P = matched / (matched + extra).
    Accuracy = matched beats whose test label equals the reference label / matched beats.
    Any figure whose denominator is 0 is NaN.

Gross statistics (``gross``) sum the confusion matrices over records and compute the figures once;
average statistics (``average``) are the mean over records of each per-record figure, taken over the
records where that figure's denominator is non-zero (NaN when there is none).
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

#: AAMI EC57 beat classes, in the order used for the confusion matrix.
DEFAULT_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
#: Row/column label of "no beat" (missed reference beat / extra test beat).
NO_BEAT = "-"
#: Default matching tolerance in seconds (EC57: 150 ms).
TOLERANCE_S = 0.150
#: Classes with EC57 ectopic-beat statistics: SVEB and VEB.
ECTOPIC: tuple[str, ...] = ("S", "V")

_NAN = float("nan")


@dataclass(frozen=True)
class Match:
    """One-to-one matching of test beats to reference beats.

    All arrays are int64 **indices** into the ``ref_samples`` / ``test_samples`` arrays given to
    :func:`match_beats` (not sample positions), in time order.

    Attributes:
        ref_idx, test_idx: matched pairs; ``ref_idx[k]`` is paired with ``test_idx[k]``.
        missed: reference beats with no test beat (false negatives of detection).
        extra: test beats with no reference beat (false positives of detection).
    """

    ref_idx: np.ndarray
    test_idx: np.ndarray
    missed: np.ndarray
    extra: np.ndarray

    @property
    def matched(self) -> int:
        """Number of matched pairs."""
        return int(self.ref_idx.size)


def _positions(x: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: beat positions must be finite sample indices")
    return a


def _tolerance_samples(fs: float, tolerance_s: float) -> float:
    if not (math.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be a positive sampling rate in Hz, got {fs!r}")
    if not (math.isfinite(tolerance_s) and tolerance_s >= 0):
        raise ValueError(f"tolerance_s must be >= 0 seconds, got {tolerance_s!r}")
    return tolerance_s * fs * (1 + 1e-12)  # inclusive bound, robust to float rounding of e.g. 0.15 * 360


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def match_beats(
    ref_samples: Sequence[float] | np.ndarray,
    test_samples: Sequence[float] | np.ndarray,
    fs: float,
    tolerance_s: float = TOLERANCE_S,
) -> Match:
    """Match test beats to reference beats one to one within ``tolerance_s`` seconds.

    Args:
        ref_samples: reference beat positions in samples (any order; need not be integers).
        test_samples: test beat positions in samples, same sampling rate.
        fs: sampling rate in Hz (converts the tolerance to samples).
        tolerance_s: largest allowed |test - ref| in seconds, inclusive (default 0.150 s).

    Returns:
        A :class:`Match` of indices into the two input arrays, pairs in time order. Rule (see the
        module docstring): pairs within the tolerance are taken closest first, ties in time order
        (earlier reference beat, then earlier test beat), each beat used at most once, skipping any
        pair that would cross an accepted one.
    """
    ref = _positions(ref_samples, "ref_samples")
    test = _positions(test_samples, "test_samples")
    tol = _tolerance_samples(fs, tolerance_s)
    if ref.size == 0 or test.size == 0:
        return Match(_empty(), _empty(), np.arange(ref.size, dtype=np.int64), np.arange(test.size, dtype=np.int64))

    ref_order = np.argsort(ref, kind="stable")
    test_order = np.argsort(test, kind="stable")
    r, t = ref[ref_order], test[test_order]  # sorted positions; ranks index these

    # candidates: every (reference, test) pair within the tolerance (a handful per beat at ECG rates)
    lo = np.searchsorted(r, t - tol, side="left")
    hi = np.searchsorted(r, t + tol, side="right")
    n_cand = hi - lo
    cand_t = np.repeat(np.arange(t.size), n_cand)
    cand_r = np.arange(int(n_cand.sum())) - np.repeat(np.cumsum(n_cand) - n_cand, n_cand) + np.repeat(lo, n_cand)
    dist = np.abs(t[cand_t] - r[cand_r])
    ok = dist <= tol
    cand_t, cand_r, dist = cand_t[ok], cand_r[ok], dist[ok]
    order = np.lexsort((cand_t, cand_r, dist))  # closest first; ties: earlier reference, then earlier test

    ref_used = np.zeros(r.size, dtype=bool)
    test_used = np.zeros(t.size, dtype=bool)
    pairs_r: list[int] = []  # accepted pairs, kept sorted by reference rank (then test ranks are sorted too)
    pairs_t: list[int] = []
    for ri, ti in zip(cand_r[order].tolist(), cand_t[order].tolist()):
        if ref_used[ri] or test_used[ti]:
            continue
        k = bisect.bisect_left(pairs_r, ri)
        if (k > 0 and pairs_t[k - 1] > ti) or (k < len(pairs_t) and pairs_t[k] < ti):
            continue  # would cross an accepted pair
        ref_used[ri] = test_used[ti] = True
        pairs_r.insert(k, ri)
        pairs_t.insert(k, ti)
    pr = np.asarray(pairs_r, dtype=np.int64)
    pt = np.asarray(pairs_t, dtype=np.int64)
    return Match(
        ref_idx=ref_order[pr].astype(np.int64),
        test_idx=test_order[pt].astype(np.int64),
        missed=np.sort(ref_order[~ref_used]).astype(np.int64),
        extra=np.sort(test_order[~test_used]).astype(np.int64),
    )


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else _NAN


def _inside(x: np.ndarray, skip: Iterable[tuple[float, float]] | None) -> np.ndarray:
    """Mask of positions lying in any [start, end] interval (inclusive, in samples)."""
    mask = np.zeros(x.size, dtype=bool)
    for interval in skip or ():
        start, end = interval
        if end < start:
            raise ValueError(f"skip interval ({start}, {end}) ends before it starts")
        mask |= (x >= start) & (x <= end)
    return mask


def _counted_rows(c: str, classes: tuple[str, ...], ec57: bool) -> list[str]:
    """Reference rows (other than ``c``) whose beats count as FP/TN for class ``c``."""
    excluded = {c}
    if ec57:
        excluded.add("Q")
        if c == "V":
            excluded.add("F")
    return [k for k in classes if k not in excluded] + [NO_BEAT]


def _class_counts(conf: np.ndarray, classes: tuple[str, ...], c: str, ec57: bool) -> dict[str, int]:
    """TP/FN/FP/TN of class ``c`` from a confusion matrix over ``classes + ("-",)`` (module docstring)."""
    if c not in classes:
        return {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    labels = list(classes) + [NO_BEAT]
    i = labels.index(c)
    rows = [labels.index(k) for k in _counted_rows(c, classes, ec57)]
    matched_cols = [j for j in range(len(classes)) if j != i]  # test said a beat, not c
    tp = int(conf[i, i])
    fn = int(conf[i, :].sum() - conf[i, i])  # other labels and the "-" column (missed)
    fp = int(conf[rows, i].sum())  # includes the "-" row (extra beats labelled c)
    tn = int(conf[np.ix_([r for r in rows if labels[r] != NO_BEAT], matched_cols)].sum())
    return {"tp": tp, "fn": fn, "fp": fp, "tn": tn}


def _class_stats(counts: dict[str, int]) -> dict[str, float]:
    tp, fn, fp, tn = counts["tp"], counts["fn"], counts["fp"], counts["tn"]
    return {"sensitivity": _ratio(tp, tp + fn), "ppv": _ratio(tp, tp + fp), "fpr": _ratio(fp, tn + fp)}


def _totals(conf: np.ndarray) -> tuple[int, int, int, int]:
    """(matched, missed, extra, correctly labelled matched) of a confusion matrix."""
    k = conf.shape[0] - 1
    return (int(conf[:k, :k].sum()), int(conf[:k, k].sum()), int(conf[k, :k].sum()),
            int(np.trace(conf[:k, :k])))


def _stats_from_confusion(conf: np.ndarray, classes: tuple[str, ...], ec57: bool) -> dict:
    matched, missed, extra, correct = _totals(conf)
    out: dict = {c: _class_stats(_class_counts(conf, classes, c, ec57)) for c in ECTOPIC}
    out["qrs"] = {"sensitivity": _ratio(matched, matched + missed), "ppv": _ratio(matched, matched + extra)}
    out.update(matched=matched, missed=missed, extra=extra, accuracy=_ratio(correct, matched),
               confusion=conf.astype(int).tolist(), classes=list(classes) + [NO_BEAT])
    return out


@dataclass(frozen=True)
class BxbResult:
    """Beat-by-beat comparison of one record.

    Attributes:
        classes: the beat classes (the confusion matrix labels are ``classes + ("-",)``).
        confusion: int64 matrix, rows = reference label, columns = test label, last row/column "-".
        match: the beat matching after skip intervals were removed (indices into the inputs).
        ec57: whether the EC57 exclusions of reference Q (and F for VEB) were applied.
        fs: sampling rate in Hz; tolerance_s: matching tolerance in seconds.
    """

    classes: tuple[str, ...]
    confusion: np.ndarray
    match: Match
    ec57: bool = True
    fs: float = 0.0
    tolerance_s: float = TOLERANCE_S
    labels: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.classes) + (NO_BEAT,))

    @property
    def matched(self) -> int:
        """Matched beats (any labels)."""
        return _totals(self.confusion)[0]

    @property
    def missed(self) -> int:
        """Reference beats without a test beat."""
        return _totals(self.confusion)[1]

    @property
    def extra(self) -> int:
        """Test beats without a reference beat."""
        return _totals(self.confusion)[2]

    def counts(self, c: str) -> dict[str, int]:
        """EC57 TP/FN/FP/TN beat counts for class ``c`` ("S" or "V"), per the module docstring."""
        return _class_counts(self.confusion, tuple(self.classes), c, self.ec57)

    def to_dict(self) -> dict:
        """``{"S": {sensitivity, ppv, fpr}, "V": {...}, "qrs": {sensitivity, ppv}, "matched", "missed",
        "extra", "accuracy", "confusion" (nested lists), "classes" (row/column labels, "-" last)}``;
        figures are fractions in [0, 1], NaN (float) where undefined."""
        return _stats_from_confusion(self.confusion, tuple(self.classes), self.ec57)


def _labels(x: Sequence[str] | np.ndarray, n: int, name: str, classes: tuple[str, ...]) -> list[str]:
    labels = [str(v) for v in np.asarray(x, dtype=object).reshape(-1).tolist()]
    if len(labels) != n:
        raise ValueError(f"{name}: {len(labels)} labels for {n} beats")
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"{name}: labels {unknown} are not in classes {list(classes)}")
    return labels


def bxb(
    ref_samples: Sequence[float] | np.ndarray,
    ref_labels: Sequence[str] | np.ndarray,
    test_samples: Sequence[float] | np.ndarray,
    test_labels: Sequence[str] | np.ndarray,
    fs: float,
    classes: Sequence[str] = DEFAULT_CLASSES,
    tolerance_s: float = TOLERANCE_S,
    skip: Iterable[tuple[float, float]] | None = None,
    ec57: bool = True,
) -> BxbResult:
    """EC57 beat-by-beat comparison of one record.

    Args:
        ref_samples, ref_labels: reference beat positions (samples) and their class labels.
        test_samples, test_labels: test (algorithm) beat positions (samples) and labels.
        fs: sampling rate in Hz.
        classes: beat classes; every label must be one of them ("-" is reserved for "no beat").
        tolerance_s: matching tolerance in seconds (inclusive), see :func:`match_beats`.
        skip: optional (start_sample, end_sample) intervals, inclusive, excluded from scoring (EC57
            excludes e.g. ventricular flutter episodes). Beats are matched on the whole record first,
            then every beat of either side inside an interval is ignored: a matched pair is dropped
            when either of its beats is inside, so no beat just outside becomes missed or extra
            because its partner was inside.
        ec57: apply the EC57 exclusions (reference Q beats in no FP/TN; reference F labelled V not a
            VEB false positive); False counts every cell plainly. See the module docstring.

    Returns:
        A :class:`BxbResult`; ``.to_dict()`` gives the statistics.
    """
    classes = tuple(str(c) for c in classes)
    if NO_BEAT in classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct and must not contain {NO_BEAT!r}: {list(classes)}")
    ref = _positions(ref_samples, "ref_samples")
    test = _positions(test_samples, "test_samples")
    rl = _labels(ref_labels, ref.size, "ref_labels", classes)
    tl = _labels(test_labels, test.size, "test_labels", classes)
    m = match_beats(ref, test, fs, tolerance_s)

    if skip is not None:
        skip = list(skip)
        ref_in, test_in = _inside(ref, skip), _inside(test, skip)
        keep = ~(ref_in[m.ref_idx] | test_in[m.test_idx])
        m = Match(m.ref_idx[keep], m.test_idx[keep], m.missed[~ref_in[m.missed]], m.extra[~test_in[m.extra]])

    k = len(classes)
    index = {c: i for i, c in enumerate(classes)}
    ri = np.fromiter((index[rl[i]] for i in m.ref_idx.tolist()), dtype=np.int64, count=m.matched)
    ti = np.fromiter((index[tl[i]] for i in m.test_idx.tolist()), dtype=np.int64, count=m.matched)
    conf = np.zeros((k + 1, k + 1), dtype=np.int64)
    np.add.at(conf, (ri, ti), 1)
    for i in m.missed.tolist():
        conf[index[rl[i]], k] += 1
    for i in m.extra.tolist():
        conf[k, index[tl[i]]] += 1
    return BxbResult(classes=classes, confusion=conf, match=m, ec57=bool(ec57), fs=float(fs),
                     tolerance_s=float(tolerance_s))


def _common(results: Sequence[BxbResult]) -> tuple[tuple[str, ...], bool]:
    if not results:
        return DEFAULT_CLASSES, True
    classes, ec57 = tuple(results[0].classes), results[0].ec57
    for r in results[1:]:
        if tuple(r.classes) != classes or r.ec57 != ec57:
            raise ValueError("results to combine must share the same classes and ec57 setting")
    return classes, ec57


def _summed(results: Sequence[BxbResult], classes: tuple[str, ...]) -> np.ndarray:
    conf = np.zeros((len(classes) + 1, len(classes) + 1), dtype=np.int64)
    for r in results:
        conf += r.confusion
    return conf


def gross(results: Iterable[BxbResult]) -> dict:
    """EC57 gross statistics: sum the confusion matrices (beat counts) over records, then compute.

    Returns the :meth:`BxbResult.to_dict` shape; NaN where a denominator is 0 (e.g. no results).
    """
    results = list(results)
    classes, ec57 = _common(results)
    return _stats_from_confusion(_summed(results, classes), classes, ec57)


def _mean(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(sum(vals) / len(vals)) if vals else _NAN


def average(results: Iterable[BxbResult]) -> dict:
    """EC57 average statistics: the mean over records of each per-record figure.

    A record contributes to a figure only when that figure's denominator is non-zero for it (e.g.
    VEB Se only over records with reference V beats), so each figure has its own set of records;
    NaN when no record qualifies. ``matched``/``missed``/``extra`` and ``confusion`` are the sums over
    records (as in :func:`gross`). Returns the :meth:`BxbResult.to_dict` shape.
    """
    results = list(results)
    classes, ec57 = _common(results)
    out = _stats_from_confusion(_summed(results, classes), classes, ec57)
    per = [r.to_dict() for r in results]
    for group in (*ECTOPIC, "qrs"):
        out[group] = {key: _mean([p[group][key] for p in per]) for key in out[group]}
    out["accuracy"] = _mean([p["accuracy"] for p in per])
    return out
