"""Choosing a beat model's decision rule on training data only (pure numpy).

The figures that the MIT-BIH targets use (SVEB and VEB sensitivity and positive predictivity,
accuracy) depend on where the decision boundaries fall as much as on the network. Class priors are
adjusted by per-class factors (:class:`~ecgnet_tf.runs.spec.Decision` ``class_scale``): the
probabilities are multiplied by them and the largest wins. :func:`fit_class_scale` chooses the factors
that maximise :func:`selection_score` on **out-of-fold predictions of cross-validation inside
DS1** (never on DS2, the test set); :func:`fit_unscored_scale` then sets the factor of F, which that
score does not weigh, by accuracy on the same predictions. :func:`fit_decision_rule` compares that
with merging F's probability into another class (``Decision.class_merge``) and keeps the better.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: classes whose F1 the selection score averages: the normal beats and the two ectopic classes the
#: targets name (F and Q are too rare in DS1 to choose anything on)
SCORED_CLASSES: tuple[str, ...] = ("N", "S", "V")
#: factors searched for each tuned class (log-spaced, 1 included)
DEFAULT_GRID: tuple[float, ...] = tuple(float(v) for v in np.round(np.exp(np.linspace(np.log(1 / 32), np.log(32),
                                                                                      31)), 6))


def _f1(tp: int, fp: int, fn: int) -> float:
    return float(2 * tp / (2 * tp + fp + fn)) if (2 * tp + fp + fn) else float("nan")


def beat_figures(y: np.ndarray, pred: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Accuracy and, per class, sensitivity / PPV / F1 of integer predictions ``pred`` against ``y`` (n,).

    Plain per-beat counts (reference positions, every beat); NaN where a denominator is 0.
    """
    y, pred = np.asarray(y, np.int64), np.asarray(pred, np.int64)
    out: dict = {"n": int(len(y)), "accuracy": float(np.mean(y == pred)) if len(y) else float("nan")}
    for i, c in enumerate(classes):
        tp = int(np.sum((y == i) & (pred == i)))
        fp = int(np.sum((y != i) & (pred == i)))
        fn = int(np.sum((y == i) & (pred != i)))
        out[c] = {"sensitivity": float(tp / (tp + fn)) if tp + fn else float("nan"),
                  "ppv": float(tp / (tp + fp)) if tp + fp else float("nan"),
                  "f1": _f1(tp, fp, fn), "support": tp + fn}
    return out


def scaled_predictions(probs: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """argmax of ``probs`` (n, K) times per-class ``scale`` (K,)."""
    return np.argmax(np.asarray(probs, np.float64) * np.asarray(scale, np.float64), axis=1)


def selection_score(y: np.ndarray, pred: np.ndarray, classes: tuple[str, ...],
                    scored: tuple[str, ...] = SCORED_CLASSES) -> float:
    """Mean F1 over ``scored`` classes (N, S, V): rewards S and V sensitivity and predictivity alike,
    and, through N, accuracy. A class absent from ``y`` and never predicted counts as 0."""
    fig = beat_figures(y, pred, classes)
    vals = [fig[c]["f1"] for c in scored if c in classes]
    return float(np.mean([0.0 if np.isnan(v) else v for v in vals])) if vals else float("nan")


@dataclass(frozen=True)
class ScaleFit:
    """Result of :func:`fit_class_scale`: the factors (class order), the score before and after."""

    scale: tuple[float, ...]
    score_before: float
    score_after: float
    rounds: int

    def to_dict(self) -> dict:
        return {"scale": list(self.scale), "score_before": self.score_before, "score_after": self.score_after,
                "rounds": self.rounds}


def fit_class_scale(y: np.ndarray, probs: np.ndarray, classes: tuple[str, ...],
                    tuned: tuple[str, ...] = ("S", "V"), grid: tuple[float, ...] = DEFAULT_GRID,
                    max_rounds: int = 4) -> ScaleFit:
    """Per-class factors maximising :func:`selection_score` of ``argmax(probs * scale)``, by coordinate ascent.

    ``y`` (n,) integer labels and ``probs`` (n, K) must be out-of-fold predictions on training
    patients. Classes not in ``tuned`` keep factor 1: by default only S and V, the classes the
    criterion scores besides the reference N. F is not scored, so tuning its factor could only move
    uncertain beats into or out of an unscored class (a bin for errors), and DS1 holds its beats in
    one record (208), too few to calibrate it. Each round tries every ``grid`` value for each
    tuned class in turn (ties keep the current value, so the result is deterministic); it stops when a
    round changes nothing.
    """
    y = np.asarray(y, np.int64)
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes) or len(y) != len(probs):
        raise ValueError(f"probs must be (n, {len(classes)}) with n = len(y); got {probs.shape} and {len(y)}")
    unknown = [c for c in tuned if c not in classes]
    if unknown:
        raise ValueError(f"tuned classes {unknown} are not in {list(classes)}")
    scale = np.ones(len(classes))
    before = best = selection_score(y, scaled_predictions(probs, scale), classes)
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        changed = False
        for c in tuned:
            i = classes.index(c)
            for v in grid:
                trial = scale.copy()
                trial[i] = v
                s = selection_score(y, scaled_predictions(probs, trial), classes)
                if s > best + 1e-12:
                    best, scale, changed = s, trial, True
        if not changed:
            break
    return ScaleFit(tuple(float(v) for v in scale), float(before), float(best), rounds)


def fit_unscored_scale(y: np.ndarray, probs: np.ndarray, classes: tuple[str, ...], scale: tuple[float, ...],
                       tuned: tuple[str, ...] = ("F",), grid: tuple[float, ...] = DEFAULT_GRID) -> tuple[float, ...]:
    """``scale`` with the factors of ``tuned`` (classes :func:`selection_score` does not score) chosen to
    maximise accuracy of ``argmax(probs * scale)``, the other factors fixed; ties keep the current value.

    F decisions are left out of the F1 criterion, but every wrong one costs accuracy. Inside DS1 the F
    beats come from one or two patients, so out-of-fold F decisions are mostly wrong; this step lowers
    F's factor by exactly as much as the out-of-fold predictions say it should (``y``, ``probs``: the
    same out-of-fold predictions as :func:`fit_class_scale`)."""
    y = np.asarray(y, np.int64)
    probs = np.asarray(probs, np.float64)
    unknown = [c for c in tuned if c not in classes]
    if unknown:
        raise ValueError(f"tuned classes {unknown} are not in {list(classes)}")
    out = np.asarray(scale, np.float64).copy()
    for c in tuned:
        i = classes.index(c)
        best = float(np.mean(scaled_predictions(probs, out) == y))
        for v in grid:
            trial = out.copy()
            trial[i] = v
            acc = float(np.mean(scaled_predictions(probs, trial) == y))
            if acc > best + 1e-12:
                best, out = acc, trial
    return tuple(float(v) for v in out)


def merged_probs(probs: np.ndarray, merge: tuple[int, ...] | None) -> np.ndarray:
    """``probs`` (n, K) with each class's column added to the column ``merge`` names for it: the
    :class:`~ecgnet_tf.runs.spec.Decision` ``class_merge`` rule itself (no class factors); unchanged for None."""
    from ..runs.spec import Decision

    return Decision("none", None, None, merge).rescale(probs)


@dataclass(frozen=True)
class RuleFit:
    """Result of :func:`fit_decision_rule`: the chosen merge (None = F kept and scaled), the class
    factors, the selection score and accuracy, and every option tried (name -> figures)."""

    merge: tuple[int, ...] | None
    scale: tuple[float, ...]
    score: float
    accuracy: float
    options: dict

    def to_dict(self) -> dict:
        return {"class_merge": None if self.merge is None else list(self.merge), "class_scale": list(self.scale),
                "score": self.score, "accuracy": self.accuracy, "options": self.options}


def fit_decision_rule(y: np.ndarray, probs: np.ndarray, classes: tuple[str, ...], unscored: str = "F",
                      into: tuple[str, ...] = SCORED_CLASSES) -> RuleFit:
    """How the unscored class ``unscored`` enters decisions, chosen on out-of-fold training predictions.

    Options: keep it, with its factor set by accuracy (:func:`fit_unscored_scale`), or merge its
    probability into one of ``into`` (it is then never decided). Each option's S and V factors are
    refitted (:func:`fit_class_scale`) on the same predictions; the option with the best
    :func:`selection_score` wins, ties broken by accuracy, then by the order tried (keep first).
    The reason to offer merging: a beat the network finds unusual but not ectopic often gets most
    of its probability on F, and with F's factor lowered its decision falls to the next class, V;
    merging sends that probability to the class the out-of-fold beats say it belongs to.
    """
    y = np.asarray(y, np.int64)
    probs = np.asarray(probs, np.float64)
    if unscored not in classes:
        raise ValueError(f"class {unscored!r} is not in {list(classes)}")
    u = classes.index(unscored)
    options: dict = {}
    best: RuleFit | None = None
    for target in (None, *into):
        if target is not None and target not in classes:
            continue
        merge = None if target is None else tuple(classes.index(target) if i == u else i for i in range(len(classes)))
        p = merged_probs(probs, merge)
        fit = fit_class_scale(y, p, classes)
        scale = fit_unscored_scale(y, p, classes, fit.scale, tuned=(unscored,)) if merge is None else fit.scale
        pred = scaled_predictions(p, np.asarray(scale))
        score, acc = selection_score(y, pred, classes), float(np.mean(pred == y))
        name = "keep" if target is None else f"{unscored}->{target}"
        options[name] = {"class_merge": None if merge is None else list(merge), "class_scale": list(scale),
                         "score": score, "accuracy": acc}
        better = best is None or score > best.score + 1e-12 or (
            abs(score - best.score) <= 1e-12 and acc > best.accuracy + 1e-12)
        if better:
            best = RuleFit(merge, tuple(float(v) for v in scale), score, acc, options)
    assert best is not None
    return RuleFit(best.merge, best.scale, best.score, best.accuracy, options)
