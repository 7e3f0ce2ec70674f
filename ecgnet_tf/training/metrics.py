"""Classification metrics in plain numpy (checked against scikit-learn in the tests)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes); rows are true classes, columns predictions."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def auroc(y_binary: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney rank statistic (ties get average ranks).

    Returns NaN when only one class is present.
    """
    y = np.asarray(y_binary, bool)
    s = np.asarray(score, np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(y_binary: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates over all thresholds (for plotting)."""
    y = np.asarray(y_binary, bool)
    order = np.argsort(-np.asarray(score, np.float64), kind="mergesort")
    tp = np.concatenate([[0], np.cumsum(y[order])])
    fp = np.concatenate([[0], np.cumsum(~y[order])])
    return fp / max(fp[-1], 1), tp / max(tp[-1], 1)


def _safe_div(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def classification_report(
    y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str], multilabel: bool = False,
    threshold: float = 0.5,
) -> dict:
    """Accuracy and per-class sensitivity, specificity, PPV, F1, AUROC, support, plus macro means.

    ``y_true`` is integer labels (n,) or, when ``multilabel``, multi-hot (n, K). ``probs`` is (n, K).
    Fractions are in 0..1; NaN where undefined (e.g. a class absent from the test set).
    """
    probs = np.asarray(probs, np.float64)
    k = len(classes)
    if multilabel:
        t = np.asarray(y_true, bool)
        p = probs >= threshold
        accuracy = float(np.mean(np.all(t == p, axis=1)))  # exact-match ratio
    else:
        y = np.asarray(y_true, int)
        pred = probs.argmax(axis=1)
        t = np.eye(k, dtype=bool)[y]
        p = np.eye(k, dtype=bool)[pred]
        accuracy = float(np.mean(pred == y))
    per_class = {}
    for i, c in enumerate(classes):
        tp = int(np.sum(t[:, i] & p[:, i]))
        fn = int(np.sum(t[:, i] & ~p[:, i]))
        fp = int(np.sum(~t[:, i] & p[:, i]))
        tn = int(np.sum(~t[:, i] & ~p[:, i]))
        se, ppv = _safe_div(tp, tp + fn), _safe_div(tp, tp + fp)
        per_class[c] = {
            "sensitivity": se,
            "specificity": _safe_div(tn, tn + fp),
            "ppv": ppv,
            "f1": _safe_div(2 * tp, 2 * tp + fp + fn),
            "auroc": auroc(t[:, i], probs[:, i]),
            "support": int(t[:, i].sum()),
        }
    keys = ("sensitivity", "specificity", "ppv", "f1", "auroc")
    macro = {m: float(np.nanmean([per_class[c][m] for c in classes])) if any(
        not np.isnan(per_class[c][m]) for c in classes) else float("nan") for m in keys}
    return {"n": int(len(probs)), "accuracy": accuracy, "macro": macro, "per_class": per_class}


def challenge_score_cinc2017(per_class: dict) -> float:
    """PhysioNet/CinC 2017 score: mean F1 of the N, A and O classes."""
    return float(np.mean([per_class[c]["f1"] for c in ("N", "A", "O")]))
