"""A record-level MI decision for PTB-XL: trees on median-beat features, fused with the network's
score, every choice made on validation records.

1. *Trees*: on the 12-lead median-beat features (:mod:`ecgnet_tf.preprocess.ecg12_features`) of the
   **training** records, one model per setting of a small grid: scikit-learn's gradient boosting
   (``HistGradientBoostingClassifier``; learning rate, tree size) and random forests
   (``RandomForestClassifier``; leaf size), :func:`tree_candidates`. A forest's vote share is shrunk
   towards 1/2 by one pseudo-vote (:class:`ShrunkForest`), so that no record's P is exactly 0 or 1
   and the logit fusion below stays finite and ranked.
2. *Fusion*: ``P = sigmoid(w * logit(P_trees) + (1 - w) * logit(P_network))`` with the weight ``w``
   (0 = the network alone, 1 = the trees alone). :func:`choose_fusion` picks the trees' setting and
   ``w`` together by AUC on **validation** records (ties: the weight nearest 0.5).
   :func:`fit_mi_record_model` does both with one validation set; the cross-validated study
   (:mod:`ecgnet_tf.bench.mi_report`) pools the validation records of several folds for the choice.
   The trees are not refitted on the validation records, so the operating point chosen on them
   (:func:`ecgnet_tf.bench.mi_report.threshold_for_specificity`) is not fitted to the trees' own
   training data.

Binary only (MI vs NORM); the same model per class gives the localisation scores.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .metrics import auroc

_EPS = 1e-6


@dataclass(frozen=True)
class MiRecordConfig:
    """Search space of :func:`fit_mi_record_model` (all chosen on validation records)."""

    learning_rates: tuple[float, ...] = (0.05, 0.1)
    max_leaf_nodes: tuple[int, ...] = (7, 15)
    max_iter: int = 300
    l2_regularization: float = 1.0
    #: random-forest candidates, one per minimum leaf size (records); () for boosting only
    forest_min_leaf: tuple[int, ...] = (2, 5)
    forest_trees: int = 500
    forest_max_features: float = 0.3
    fusion_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def fuse(trees: np.ndarray, network: np.ndarray, weight: float) -> np.ndarray:
    """P(MI) from the trees' and the network's P(MI): ``sigmoid(w logit(trees) + (1 - w) logit(network))``."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"fusion weight must lie in [0, 1], got {weight}")
    z = weight * _logit(trees) + (1.0 - weight) * _logit(network)
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class MiRecordModel:
    """Fitted trees and the fusion weight; ``choices`` records every validation figure."""

    trees: object
    weight: float
    settings: dict
    choices: dict

    def tree_scores(self, features: np.ndarray) -> np.ndarray:
        """The trees' P(MI) of (n, F) features."""
        return self.trees.predict_proba(np.asarray(features, np.float32))[:, 1]

    def scores(self, features: np.ndarray, network: np.ndarray) -> np.ndarray:
        """Fused P(MI) of records with (n, F) features and the network's (n,) P(MI)."""
        return fuse(self.tree_scores(features), network, self.weight)


def _trees(cfg: MiRecordConfig, lr: float, leaves: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(learning_rate=lr, max_leaf_nodes=leaves, max_iter=cfg.max_iter,
                                          l2_regularization=cfg.l2_regularization, random_state=cfg.seed)


class ShrunkForest:
    """A random forest whose P(MI) is its vote share shrunk by one pseudo-vote of 1/2:
    ``(n_trees * p + 0.5) / (n_trees + 1)``, strictly inside (0, 1) (a logit of at most
    ``log(2 n_trees + 1)``), the ranking of the records unchanged."""

    def __init__(self, n_trees: int, min_leaf: int, max_features: float, seed: int):
        from sklearn.ensemble import RandomForestClassifier

        self.n_trees = n_trees
        self.forest = RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=min_leaf,
                                             max_features=max_features, n_jobs=1, random_state=seed)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "ShrunkForest":
        self.forest.fit(x, y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = self.forest.predict_proba(x)[:, list(self.forest.classes_).index(True)]
        p = (self.n_trees * p + 0.5) / (self.n_trees + 1)
        return np.stack([1.0 - p, p], axis=1)


def _check(x: np.ndarray, y: np.ndarray, what: str, both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float32), np.asarray(y, bool)
    if x.ndim != 2 or len(x) != len(y) or len(y) == 0:
        raise ValueError(f"{what}: features must be (n, F) with one label per record, got {x.shape} and {y.shape}")
    if both and (y.all() or not y.any()):
        raise ValueError(f"{what}: needs both positive and negative records ({int(y.sum())} positive of {len(y)})")
    return x, y


def _score(auc: float) -> float:
    """AUC for choosing (NaN, when validation lacks a class, never wins)."""
    return -np.inf if np.isnan(auc) else auc


@dataclass
class TreeCandidate:
    """Trees fitted with one setting of the search space."""

    settings: dict
    trees: object

    def scores(self, features: np.ndarray) -> np.ndarray:
        return self.trees.predict_proba(np.asarray(features, np.float32))[:, 1]


def tree_candidates(x_train: np.ndarray, y_train: np.ndarray, config: MiRecordConfig = MiRecordConfig()
                    ) -> list[TreeCandidate]:
    """Trees fitted on the training records, one per setting of the search space (in grid order)."""
    x_train, y_train = _check(x_train, y_train, "training records")
    boosted = [TreeCandidate({"model": "boosting", "learning_rate": lr, "max_leaf_nodes": leaves},
                             _trees(config, lr, leaves).fit(x_train, y_train))
               for lr in config.learning_rates for leaves in config.max_leaf_nodes]
    forests = [TreeCandidate({"model": "forest", "min_samples_leaf": leaf},
                             ShrunkForest(config.forest_trees, leaf, config.forest_max_features,
                                          config.seed).fit(x_train, y_train))
               for leaf in config.forest_min_leaf]
    return boosted + forests


def choose_fusion(y_val: np.ndarray, tree_val: list[np.ndarray], network_val: np.ndarray,
                  weights: tuple[float, ...]) -> tuple[int, float, list[dict]]:
    """(candidate index, fusion weight, every (candidate, weight) with its AUC) maximising the AUC of the
    fused scores on validation records. Ties: the weight nearest 0.5, then the earlier candidate; a
    single-class validation set (no AUC) keeps the first candidate and w = 0.5."""
    y_val = np.asarray(y_val, bool)
    network_val = np.asarray(network_val, np.float64)
    if network_val.shape != (len(y_val),):
        raise ValueError(f"network_val must hold one score per validation record ({len(y_val)}), "
                         f"got shape {network_val.shape}")
    table = [{"candidate": i, "weight": w, "val_auc": auroc(y_val, fuse(tv, network_val, w))}
             for i, tv in enumerate(tree_val) for w in weights]
    top = max(_score(t["val_auc"]) for t in table)
    best = min((t for t in table if _score(t["val_auc"]) >= top - 1e-12),
               key=lambda t: (abs(t["weight"] - 0.5), t["weight"], t["candidate"]))
    return best["candidate"], float(best["weight"]), table


def fit_mi_record_model(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                        network_val: np.ndarray, config: MiRecordConfig = MiRecordConfig()) -> MiRecordModel:
    """Trees on the training records; their setting and the fusion weight by AUC on the validation records.

    Args:
        x_train, x_val: (n, F) median-beat features.
        y_train, y_val: (n,) True for MI.
        network_val: (n_val,) the network's P(MI) of the validation records (it never trained on them).
    """
    # validation records with a single class give no AUC: the first settings and w = 0.5 are kept
    x_val, y_val = _check(x_val, y_val, "validation records", both=False)
    cands = tree_candidates(x_train, y_train, config)
    i, weight, table = choose_fusion(y_val, [c.scores(x_val) for c in cands], network_val, config.fusion_weights)
    return MiRecordModel(trees=cands[i].trees, weight=weight, settings=cands[i].settings,
                         choices={"grid": table, "candidates": [c.settings for c in cands], "config": config.to_dict()})
