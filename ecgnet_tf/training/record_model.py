"""Whole-record decisions for CinC 2017 style tasks: a learned aggregation of a record's windows and features.

A record (9-61 s) is cut into 10-s windows that the network classifies one by one. The record's
class is decided by a small second stage, fitted on the run's **training** records (trees) and its
**validation** records (the fusion with the network), never on test records:

1. *Trees*: gradient-boosted trees (scikit-learn ``HistGradientBoostingClassifier``) on the record's
   whole-record features (:mod:`ecgnet_tf.preprocess.record_features`), optionally with a summary of
   its windows' rhythm rows (:func:`summarise_rows`). Trained on the training records (their
   features do not depend on the network, so nothing is overfitted); the feature set, the class
   weighting and the tree settings are chosen by challenge F1 on the validation records.
2. *Fusion*: a multinomial logistic regression on the trees' log-probabilities and a summary of the
   network's window probabilities (mean, max, min, mean log), fitted on the validation records
   (the network has not been trained on them). It is kept only when it beats the trees alone in
   5-fold cross-validation inside the validation records; otherwise the trees decide, refitted with
   the chosen settings on the training and validation records together (``refit_with_val``).

:class:`RecordModel` is saved in the run folder (``record_model/``: a pickle with its SHA-256 and the
scikit-learn version in ``manifest.json``, checked at load time).
"""
from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import atomic
from .tuning import _f1

#: folder of a run that holds its record model
RECORD_MODEL_DIR = "record_model"
_PICKLE = "model.pkl"
_MANIFEST = "manifest.json"
#: classes whose F1 the challenge score averages (CinC 2017: N, A, O; noise is not scored)
SCORED: tuple[str, ...] = ("N", "A", "O")


@dataclass(frozen=True)
class RecordModelConfig:
    """Search space of :func:`fit_record_model` (all chosen on validation records)."""

    learning_rates: tuple[float, ...] = (0.05, 0.1)
    max_leaf_nodes: tuple[int, ...] = (15, 31)
    max_iter: int = 300
    l2_regularization: float = 1.0
    feature_sets: tuple[str, ...] = ("record", "record+windows")
    # class weights of the trees: None (the training records' class mix) or "balanced" (each class
    # weighs as much in total: AF and noisy records are a minority)
    class_weights: tuple[str | None, ...] = (None, "balanced")
    # whole-record features used (names of preprocess.RECORD_FEATURE_NAMES); empty = all of them
    feature_names: tuple[str, ...] = ()
    fusion_c: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
    inner_folds: int = 5
    refit_with_val: bool = True
    seed: int = 0


def challenge_f1(y: np.ndarray, pred: np.ndarray, classes: tuple[str, ...], scored: tuple[str, ...] = SCORED) -> float:
    """Mean F1 of the ``scored`` classes (CinC 2017: N, A, O) of integer predictions; a scored class
    absent from ``y`` and never predicted counts as 0."""
    y, pred = np.asarray(y), np.asarray(pred)
    vals = []
    for c in scored:
        i = classes.index(c)
        tp, fp, fn = (int(np.sum((y == i) & (pred == i))), int(np.sum((y != i) & (pred == i))),
                      int(np.sum((y == i) & (pred != i))))
        f = _f1(tp, fp, fn)
        vals.append(0.0 if np.isnan(f) else f)
    return float(np.mean(vals))


def summarise_rows(rows: np.ndarray) -> np.ndarray:
    """(4F,) summary of a record's window rows (n, F): mean, max, min and median over windows (zeros
    when the record has no window)."""
    rows = np.asarray(rows, np.float64)
    if rows.ndim != 2:
        raise ValueError(f"window rows must be (n, F), got shape {rows.shape}")
    if len(rows) == 0:
        return np.zeros(4 * rows.shape[1])
    return np.concatenate([rows.mean(0), rows.max(0), rows.min(0), np.median(rows, 0)])


def summarise_probs(probs: np.ndarray) -> np.ndarray:
    """(4K,) summary of a record's window probabilities (n, K): mean, max, min and mean log (1e-4
    floor); uniform probabilities stand in when the record has no window."""
    p = np.asarray(probs, np.float64)
    if p.ndim != 2:
        raise ValueError(f"window probabilities must be (n, K), got shape {p.shape}")
    if len(p) == 0:
        p = np.full((1, p.shape[1]), 1.0 / p.shape[1])
    return np.concatenate([p.mean(0), p.max(0), p.min(0), np.log(p + 1e-4).mean(0)])


def group_by_record(record: np.ndarray, rows: np.ndarray, ids: list[str]) -> list[np.ndarray]:
    """The rows of each record of ``ids`` (in that order) from per-window ``record`` ids and ``rows``."""
    record = np.asarray(record).astype(str)
    order = np.argsort(record, kind="stable")
    srt = record[order]
    out = []
    for rid in ids:
        lo, hi = np.searchsorted(srt, rid, "left"), np.searchsorted(srt, rid, "right")
        out.append(np.asarray(rows)[order[lo:hi]])
    return out


@dataclass
class RecordInputs:
    """Per-record inputs of the record model, rows in the order of ``ids``.

    features: (n, F) whole-record features. windows: (n, 4R) :func:`summarise_rows` of the windows'
    rhythm rows. network: (n, 4K) :func:`summarise_probs` of the network's window probabilities.
    """

    ids: list[str]
    features: np.ndarray
    windows: np.ndarray
    network: np.ndarray

    def with_features(self, columns: tuple[int, ...] | None) -> "RecordInputs":
        """The same inputs with only the whole-record feature ``columns`` (None: all)."""
        if columns is None:
            return self
        return RecordInputs(self.ids, self.features[:, list(columns)], self.windows, self.network)

    def trees_input(self, feature_set: str) -> np.ndarray:
        if feature_set == "record":
            return self.features
        if feature_set == "record+windows":
            return np.hstack([self.features, self.windows])
        raise ValueError(f"unknown feature set {feature_set!r}")

    @staticmethod
    def build(ids: list[str], features: np.ndarray, window_record: np.ndarray, window_rr: np.ndarray,
              window_probs: np.ndarray | None = None) -> "RecordInputs":
        """From a record feature table (rows in ``ids`` order) and per-window rr rows and network
        probabilities (None: no network summary, e.g. for training records, whose windows the
        network has seen)."""
        if len(features) != len(ids):
            raise ValueError(f"{len(features)} feature rows for {len(ids)} records")
        missing = sorted(set(ids) - set(np.asarray(window_record).astype(str).tolist()))
        if missing:
            raise ValueError(f"{len(missing)} record(s) have no windows: {', '.join(missing[:5])}")
        rr = group_by_record(window_record, window_rr, ids)
        net = (np.zeros((len(ids), 0)) if window_probs is None else
               np.stack([summarise_probs(p) for p in group_by_record(window_record, window_probs, ids)]))
        return RecordInputs(list(ids), np.asarray(features, np.float64), np.stack([summarise_rows(r) for r in rr]),
                            net)


@dataclass
class RecordModel:
    """A fitted record model: trees, optional fusion, and how they were chosen (``selection``)."""

    classes: tuple[str, ...]
    feature_set: str
    trees: object  # sklearn HistGradientBoostingClassifier
    fusion: object | None = None  # (StandardScaler, LogisticRegression) or None
    selection: dict = field(default_factory=dict)
    columns: tuple[int, ...] | None = None  # whole-record feature columns used (None: all)

    def tree_probs(self, x: RecordInputs) -> np.ndarray:
        rows = x.with_features(self.columns).trees_input(self.feature_set)
        want = getattr(self.trees, "n_features_in_", rows.shape[1])
        if rows.shape[1] != want:
            raise ValueError(f"this record model was fitted on {want} features per record, this version computes "
                             f"{rows.shape[1]} (the record features changed); refit it with "
                             "python -m ecgnet_tf.rhythm_study --stages records")
        return _full_probs(self.trees, self.trees.predict_proba(rows), len(self.classes))

    def predict_proba(self, x: RecordInputs) -> np.ndarray:
        """(n, K) class probabilities of the records of ``x``."""
        p = self.tree_probs(x)
        if self.fusion is None:
            return p
        scaler, lr = self.fusion
        z = scaler.transform(_fusion_input(p, x.network))
        return _full_probs(lr, lr.predict_proba(z), len(self.classes))

    def trees_refitted(self, train: RecordInputs, y_train: np.ndarray) -> "RecordModel":
        """The same model with its trees refitted, with the chosen settings, on ``train`` only (e.g. to
        score validation records that the saved trees were refitted on); the fusion is kept."""
        chosen, cfg = self.selection.get("chosen"), self.selection.get("config")
        if not chosen or not cfg:
            raise ValueError("this record model has no selection record (chosen settings); refit it with the rhythm study")
        rc = RecordModelConfig(max_iter=cfg["max_iter"], l2_regularization=cfg["l2_regularization"], seed=cfg["seed"])
        est = _trees(rc, chosen["learning_rate"], chosen["max_leaf_nodes"], chosen["class_weight"]).fit(
            train.with_features(self.columns).trees_input(self.feature_set), np.asarray(y_train, np.int64))
        return RecordModel(self.classes, self.feature_set, est, self.fusion,
                           {**self.selection, "refit": "training records only"}, self.columns)

    def save(self, run_dir: Path, folder: str = RECORD_MODEL_DIR) -> Path:
        """Write ``run_dir/<folder>/`` (pickle + manifest with its SHA-256); returns the folder."""
        import sklearn

        d = Path(run_dir) / folder
        d.mkdir(parents=True, exist_ok=True)
        blob = pickle.dumps({"classes": self.classes, "feature_set": self.feature_set, "trees": self.trees,
                             "fusion": self.fusion, "columns": self.columns})
        atomic.write_bytes(d / _PICKLE, blob)
        manifest = {"sha256": hashlib.sha256(blob).hexdigest(), "sklearn": sklearn.__version__,
                    "classes": list(self.classes), "feature_set": self.feature_set,
                    "fusion": self.fusion is not None, "selection": self.selection}
        atomic.write_json(d / _MANIFEST, manifest)
        return d

    @staticmethod
    def load(run_dir: Path) -> "RecordModel":
        """Read a saved record model; refuses a pickle whose SHA-256 differs from its manifest."""
        d = Path(run_dir) / RECORD_MODEL_DIR
        if not (d / _MANIFEST).is_file() or not (d / _PICKLE).is_file():
            raise FileNotFoundError(f"{d}: no record model (written by python -m ecgnet_tf.rhythm_study)")
        manifest = json.loads((d / _MANIFEST).read_text())
        blob = (d / _PICKLE).read_bytes()
        if hashlib.sha256(blob).hexdigest() != manifest.get("sha256"):
            raise ValueError(f"{d / _PICKLE}: checksum differs from {d / _MANIFEST}; refusing to load it")
        obj = pickle.loads(blob)  # noqa: S301 - checksummed file written by this project
        return RecordModel(tuple(obj["classes"]), obj["feature_set"], obj["trees"], obj["fusion"],
                           manifest.get("selection", {}), obj.get("columns"))


def has_record_model(run_dir: Path) -> bool:
    return (Path(run_dir) / RECORD_MODEL_DIR / _MANIFEST).is_file()


def _full_probs(est, p: np.ndarray, k: int) -> np.ndarray:
    """Probabilities over all ``k`` classes (a class absent from the fit gets 0)."""
    out = np.zeros((len(p), k))
    out[:, np.asarray(est.classes_, dtype=np.int64)] = p
    return out


def _fusion_input(tree_p: np.ndarray, network: np.ndarray) -> np.ndarray:
    return np.hstack([np.log(tree_p + 1e-4), network])


def _trees(cfg: RecordModelConfig, lr: float, leaves: int, class_weight: str | None = None):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(learning_rate=lr, max_iter=cfg.max_iter, max_leaf_nodes=leaves,
                                          l2_regularization=cfg.l2_regularization, early_stopping=False,
                                          class_weight=class_weight, random_state=cfg.seed)


def _fit_fusion(z: np.ndarray, y: np.ndarray, c: float, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(z)
    lr = LogisticRegression(C=c, max_iter=5000, random_state=seed).fit(scaler.transform(z), y)
    return scaler, lr


def fit_record_model(train: RecordInputs, y_train: np.ndarray, val: RecordInputs, y_val: np.ndarray,
                     classes: tuple[str, ...], cfg: RecordModelConfig = RecordModelConfig(),
                     log=print) -> RecordModel:
    """Fit the trees on ``train`` (choosing feature set and settings by challenge F1 on ``val``), then
    decide by inner cross-validation on ``val`` whether a fusion with the network's window summary
    beats the trees alone (see the module docstring). Labels are integer class indices."""
    from sklearn.model_selection import StratifiedKFold

    y_train, y_val = np.asarray(y_train, np.int64), np.asarray(y_val, np.int64)
    columns = feature_columns(cfg.feature_names)
    train, val = train.with_features(columns), val.with_features(columns)
    if len(np.unique(y_train)) < 2:
        raise ValueError("the record model needs training records of at least two classes")
    trials = []
    best = None
    for fs in cfg.feature_sets:
        for cw in cfg.class_weights:
            for lr in cfg.learning_rates:
                for leaves in cfg.max_leaf_nodes:
                    est = _trees(cfg, lr, leaves, cw).fit(train.trees_input(fs), y_train)
                    p = _full_probs(est, est.predict_proba(val.trees_input(fs)), len(classes))
                    score = challenge_f1(y_val, p.argmax(1), classes)
                    trials.append({"feature_set": fs, "class_weight": cw, "learning_rate": lr,
                                   "max_leaf_nodes": leaves, "val_f1": score})
                    if best is None or score > best[0] + 1e-12:
                        best = (score, fs, est, p, len(trials) - 1)
    score, fs, est, p_val, chosen = best
    log(f"record model: trees on {fs!r} (val challenge F1 {score:.4f})")
    selection = {"trees": trials, "chosen": trials[chosen], "fusion": None}
    counts = np.bincount(y_val, minlength=len(classes))
    folds = int(min(cfg.inner_folds, counts[counts > 0].min())) if np.any(counts > 0) else 0
    if folds >= 2 and len(np.unique(y_val)) >= 2:
        z = _fusion_input(p_val, val.network)
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
        base = challenge_f1(y_val, p_val.argmax(1), classes)
        results = {}
        for c in cfg.fusion_c:
            oof = np.zeros(len(y_val), np.int64)
            for tr, te in skf.split(z, y_val):
                scaler, lr = _fit_fusion(z[tr], y_val[tr], c, cfg.seed)
                oof[te] = _full_probs(lr, lr.predict_proba(scaler.transform(z[te])), len(classes)).argmax(1)
            results[c] = challenge_f1(y_val, oof, classes)
        c_best = max(cfg.fusion_c, key=lambda c: (results[c], -c))
        use = results[c_best] > base
        selection["fusion"] = {"trees_alone_val_f1": base, "inner_cv_f1": {str(c): v for c, v in results.items()},
                               "C": c_best, "used": bool(use), "inner_folds": folds}
        log(f"record model: fusion with the network: inner-CV F1 {results[c_best]:.4f} (C={c_best}) vs trees "
            f"alone {base:.4f} -> {'fusion' if use else 'trees alone'}")
        fusion = _fit_fusion(z, y_val, c_best, cfg.seed) if use else None
    else:
        fusion = None
    if fusion is None and cfg.refit_with_val:
        chosen_cfg = selection["chosen"]
        est = _trees(cfg, chosen_cfg["learning_rate"], chosen_cfg["max_leaf_nodes"], chosen_cfg["class_weight"]).fit(
            np.vstack([train.trees_input(fs), val.trees_input(fs)]), np.concatenate([y_train, y_val]))
        selection["refit_with_val"] = True
        log(f"record model: trees refitted on {len(y_train) + len(y_val)} training + validation records")
    return RecordModel(tuple(classes), fs, est, fusion, {"config": _jsonable(asdict(cfg)), **selection}, columns)


def feature_columns(names: tuple[str, ...]) -> tuple[int, ...] | None:
    """Column indices of the whole-record features ``names`` (empty: None, all columns); ValueError
    naming unknown names."""
    if not names:
        return None
    from ..preprocess.record_features import RECORD_FEATURE_NAMES

    unknown = [n for n in names if n not in RECORD_FEATURE_NAMES]
    if unknown:
        raise ValueError(f"unknown record features {unknown}; see preprocess.RECORD_FEATURE_NAMES")
    return tuple(RECORD_FEATURE_NAMES.index(n) for n in names)


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
