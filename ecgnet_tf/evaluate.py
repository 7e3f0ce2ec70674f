"""Evaluate a trained run on its held-out partition (or on other data / records).

    python -m ecgnet_tf.evaluate RUN_DIR [--data-dir D2] [--records 100,103] [--partition test|val]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import preprocess as pp
from .data.errors import DataError
from .settings import add_data_dir_argument, resolve_data_dir
from .training.metrics import challenge_score_cinc2017, classification_report
from .training.report import write_reports
from .training.rundir import RunConfig, load_split
from .training.tasks import TaskRecords, catalog, get_task
from .training.windows import Windows, load_windows


def load_model(path: Path):
    """Load a saved ``.keras`` model with the project's custom layers and losses."""
    import tf_keras as keras

    from .model import custom_objects
    from .training import losses  # noqa: F401  (registers the loss classes)

    return keras.models.load_model(path, custom_objects=custom_objects(), compile=False)


def load_zscore(run_dir: Path) -> "pp.ZScore":
    return pp.ZScore.from_dict(json.loads((Path(run_dir) / "normalization.json").read_text()))


def predict(model, windows: Windows, zscore: "pp.ZScore", batch_size: int = 128) -> np.ndarray:
    """Class probabilities (n, K) for z-scored windows."""
    from .training.pipeline import make_dataset

    n_classes = int(model.outputs[0].shape[-1])
    ds = make_dataset(zscore.transform(windows.x).astype(np.float32), windows.prior, None, n_classes, batch_size)
    return np.asarray(model.predict(ds, verbose=0), dtype=np.float64)


def aggregate_records(windows: Windows, probs: np.ndarray, noisy_class: int | None = None
                      ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Mean window probability per record, over windows that passed the quality gate.

    A record whose windows all fail the gate is assigned ``noisy_class`` (when the task has one),
    else the mean over all its windows. Returns (record ids, labels, probabilities).
    """
    ids = list(dict.fromkeys(windows.record.tolist()))
    ys, ps = [], []
    for rid in ids:
        m = windows.record == rid
        ok = m & windows.ok
        if ok.any():
            p = probs[ok].mean(axis=0)
        elif noisy_class is not None:
            p = np.eye(probs.shape[1])[noisy_class]
        else:
            p = probs[m].mean(axis=0)
        ps.append(p)
        ys.append(windows.y[np.flatnonzero(m)[0]])
    return ids, np.asarray(ys), np.asarray(ps)


def evaluate_run(run_dir: Path, data_dir: Path | None = None, records: list[str] | None = None,
                 partition: str = "test", out_dir: Path | None = None, cache_dir: Path | None = None,
                 model=None) -> dict:
    """Evaluate ``run_dir``'s best model; write metrics.json, report.md and figures; return the metrics."""
    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir)
    task = get_task(cfg.task)
    data_dir = Path(data_dir or cfg.data_dir)
    split = load_split(run_dir)
    ids = list(records) if records else list(split.partition(partition))
    if records and data_dir.resolve() == Path(cfg.data_dir).resolve():
        seen = sorted(set(ids) & (set(split.train) | set(split.val)))
        if seen:
            print(f"warning: records {seen} were used for training/validation of this run; "
                  "their metrics are not held-out figures", file=sys.stderr)
    cat = catalog(task, data_dir)
    missing = [i for i in ids if i not in cat.label_of]
    if missing:
        raise DataError(f"records {missing[:10]} are not {task.name} records under {data_dir}")
    trecs = TaskRecords(task, split, cat.label_of, cat.entry_of)
    pcfg = pp.PreprocessConfig(**_tuples(cfg.preprocess))
    windows = load_windows(trecs, data_dir, ids, pcfg, cache_dir=cache_dir, max_per_record=cfg.eval_max_per_record,
                           seed=cfg.seed, desc=f"{partition} windows")
    model = model if model is not None else load_model(run_dir / "model.keras")
    probs = predict(model, windows, load_zscore(run_dir))
    if task.record_level:
        noisy = task.classes.index("~") if "~" in task.classes else None
        rec_ids, y, p = aggregate_records(windows, probs, noisy)
        level = "record"
    else:
        rec_ids, y, p = sorted(set(windows.record.tolist())), windows.y, probs
        level = "beat"
    report = classification_report(y, p, task.classes, multilabel=task.multilabel)
    metrics = {"task": task.name, "partition": partition if not records else "records", "level": level,
               **report, "n_records": len(rec_ids), "n_windows": len(windows),
               "windows_rejected_by_quality_gate": int((~windows.ok).sum()), "split": split.name,
               "model": "model.keras", "profile": cfg.profile, "config": cfg.config,
               "windows_capped_per_record": cfg.eval_max_per_record}
    if task.name == "cinc2017":
        metrics["challenge_score"] = challenge_score_cinc2017(report["per_class"])
    if not records:
        metrics["partition"] = partition
    write_reports(out_dir or run_dir, metrics, y, p, task.classes, task.multilabel)
    return metrics


def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet_tf.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    add_data_dir_argument(parser)
    parser.add_argument("--records", default=None, help="comma-separated record ids to evaluate instead")
    parser.add_argument("--partition", default="test", choices=("test", "val"))
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: the run folder)")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        data_dir = resolve_data_dir(args.data_dir) if args.data_dir else None
        m = evaluate_run(args.run_dir, data_dir, args.records.split(",") if args.records else None,
                         args.partition, args.out, args.cache_dir)
    except (DataError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: m[k] for k in ("task", "partition", "n", "accuracy", "macro")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
