"""SMOTE-Tomek class balancing of the training partition (imbalanced-learn), sized for a laptop.

Steps: (1) the majority classes are randomly capped at ``majority_cap`` windows; (2) SMOTE
synthesises minority windows by interpolating flattened windows with their same-class
neighbours, up to ``target`` windows per class and at most ``max_ratio`` times the real count;
(3) Tomek links are found on a compact copy of the windows (decimated in time) and their majority
members removed. Only ever call this on the
training partition: validation and test must stay untouched.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class BalanceConfig:
    majority_cap: int = 12000  # windows kept per class before SMOTE
    target: int = 4000  # minority classes are oversampled up to this many windows
    max_ratio: int = 50  # ... but to at most this multiple of their real count
    k_neighbors: int = 5
    tomek_decimate: int = 6  # time decimation of the compact copy used for Tomek links
    # class weights of the loss treat a class with fewer training windows as if it had this many
    weight_floor: int = 200

    def __post_init__(self) -> None:
        for name in ("majority_cap", "target", "max_ratio", "k_neighbors", "tomek_decimate", "weight_floor"):
            if getattr(self, name) < 1:
                raise ValueError(f"BalanceConfig.{name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BalanceResult:
    x: np.ndarray  # (n', T, C) windows
    y: np.ndarray  # (n',) int labels
    source: np.ndarray  # (n',) index into the input, or -1 for synthetic windows
    counts_before: dict[int, int]
    counts_after: dict[int, int]
    extra: np.ndarray | None = None  # (n', F) per-window features balanced with the windows (e.g. RR)


#: how beat tasks balance their training windows: SMOTE-Tomek (synthetic minority windows), random
#: undersampling of the majority classes to ``majority_cap`` (real windows only; the loss's
#: class weights do the rest), or nothing (class weights only)
BALANCE_MODES: tuple[str, ...] = ("smote", "undersample", "none")


def cap_classes(y: np.ndarray, cap: int, seed: int = 0) -> np.ndarray:
    """Sorted indices keeping at most ``cap`` randomly chosen (seeded) windows of every class of ``y`` (n,)."""
    if cap < 1:
        raise ValueError(f"cap must be >= 1, got {cap}")
    rng = np.random.default_rng(seed)
    y = np.asarray(y, np.int64)
    keep = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) > cap:
            idx = np.sort(rng.choice(idx, cap, replace=False))
        keep.append(idx)
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def smote_tomek(x: np.ndarray, y: np.ndarray, cfg: BalanceConfig = BalanceConfig(), seed: int = 0,
                partition: str = "train", extra: np.ndarray | None = None) -> BalanceResult:
    """Balance windows ``x`` (n, T, C) with integer labels ``y`` (n,) by capping, SMOTE and Tomek links.

    ``extra`` (n, F): per-window features (e.g. RR intervals) that travel with their windows: SMOTE
    interpolates them together with the waveform (one joint vector per window), capping and Tomek
    links keep or drop them with it.

    Raises ValueError when ``partition`` is not "train" (balancing must never see held-out data).
    """
    from imblearn.over_sampling import SMOTE
    from imblearn.under_sampling import TomekLinks

    if partition != "train":
        raise ValueError(f"SMOTE-Tomek may only be fitted on the training partition, not {partition!r}")
    rng = np.random.default_rng(seed)
    y = np.asarray(y, np.int64)
    classes, counts = np.unique(y, return_counts=True)
    before = {int(c): int(n) for c, n in zip(classes, counts)}
    keep = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        if len(idx) > cfg.majority_cap:
            idx = np.sort(rng.choice(idx, cfg.majority_cap, replace=False))
        keep.append(idx)
    keep_idx = np.concatenate(keep)
    xs, ys = x[keep_idx], y[keep_idx]
    n, t, ch = xs.shape
    ex = np.zeros((n, 0), np.float32) if extra is None else np.asarray(extra, np.float32)[keep_idx]
    f = ex.shape[1]
    # classes with too few windows to interpolate are left as they are
    strategy = {}
    for c in classes:
        n_c = int(np.sum(ys == c))
        want = min(cfg.target, cfg.max_ratio * n_c)
        if n_c >= 2 and want > n_c:
            strategy[int(c)] = want
    if strategy:
        k = int(min(cfg.k_neighbors, min(np.sum(ys == c) for c in strategy) - 1))
        sm = SMOTE(sampling_strategy=strategy, k_neighbors=max(k, 1), random_state=seed)
        flat, ys_new = sm.fit_resample(np.concatenate([xs.reshape(n, -1), ex], axis=1), ys)
        xs_new = flat[:, :t * ch].reshape(-1, t, ch).astype(np.float32)
        ex_new = flat[:, t * ch:].astype(np.float32)
    else:
        xs_new, ys_new, ex_new = xs, ys, ex
    assert ex_new.shape[1] == f
    source = np.concatenate([keep_idx, -np.ones(len(ys_new) - n, dtype=np.int64)])
    compact = xs_new[:, :: cfg.tomek_decimate, :].reshape(len(ys_new), -1)
    tl = TomekLinks(sampling_strategy="auto")
    tl.fit_resample(compact, ys_new)
    kept = np.sort(tl.sample_indices_)
    xs_new, ys_new, source, ex_new = xs_new[kept], ys_new[kept], source[kept], ex_new[kept]
    after_c, after_n = np.unique(ys_new, return_counts=True)
    return BalanceResult(xs_new, ys_new, source, before, {int(c): int(m) for c, m in zip(after_c, after_n)},
                         None if extra is None else ex_new)
