"""Explain a trained ecgnet model: Grad-CAM / attention figures and zone / lead attribution.

    python -m ecgnet_tf.explain RUN_DIR --record REF [--task T] [--data-dir D] [--class C]
                                [--method gradcam|gradcam++|scorecam] [--layer NAME] --out DIR
    python -m ecgnet_tf.explain RUN_DIR --partition test [--max-windows N] --out DIR
    python -m ecgnet_tf.explain M.tflite --record REF [--run RUN_DIR] --out DIR   (attention maps only)
    python -m ecgnet_tf.explain RUN_DIR --export-tflite M.tflite [--int8]        (attention TFLite model)

REF is a record id of the task under the data dir (e.g. 100, 00001_lr, A00012) or a WFDB record
path. Writes PNG figures, DIR/attribution.json and DIR/attribution.md (definitions in
:mod:`ecgnet_tf.interpret.report`).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from .runs import SIDECAR_KEYS, ModelSpec, RunConfig, load_model, load_split
from .tasks import get_task
from .cli import add_data_dir_argument, run_command
from .settings import resolve_data_dir

DEFAULT_MAX_WINDOWS = 256


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.explain", description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="run folder (with model.keras) or an attention .tflite model")
    p.add_argument("--record", default=None,
                   help="record id under the data dir, or a WFDB record path (several: comma-separated)")
    p.add_argument("--partition", default=None, choices=("test", "val", "train"),
                   help="attribution over a partition of the run's split")
    p.add_argument("--max-windows", type=int, default=DEFAULT_MAX_WINDOWS,
                   help=f"cap on explained windows (spread over records; default {DEFAULT_MAX_WINDOWS})")
    p.add_argument("--max-figures", type=int, default=5, help="figures per record (beat tasks: one per class)")
    p.add_argument("--task", default=None, help="task (default: the run's)")
    add_data_dir_argument(p)
    p.add_argument("--class", dest="cls", default=None, help="class name or index to explain (default: predicted)")
    p.add_argument("--method", default="gradcam", choices=("gradcam", "gradcam++", "scorecam"))
    p.add_argument("--layer", default=None, help="CAM layer (default: the backbone output before attention)")
    p.add_argument("--run", type=Path, default=None, help="run folder for a .tflite model without sidecar metadata")
    p.add_argument("--out", type=Path, default=None, help="output folder (default RUN/explain)")
    p.add_argument("--export-tflite", type=Path, default=None, help="write the attention TFLite model here")
    p.add_argument("--int8", action="store_true", help="full-int8 attention TFLite model")
    p.add_argument("--seed", type=int, default=0)
    return p


def run_spec(run_dir: Path, data_dir: str | None) -> tuple[ModelSpec, Path]:
    """The run's deployment spec and the data folder (``--data-dir``, else the run's, else the default)."""
    cfg = RunConfig.load(run_dir)
    dd = resolve_data_dir(data_dir) if data_dir else Path(cfg.data_dir) if cfg.data_dir else resolve_data_dir(None)
    return ModelSpec.from_run(run_dir), dd


def tflite_spec(model_path: Path, run: Path | None, data_dir: str | None) -> tuple[ModelSpec, Path, Path | None]:
    """Spec of a .tflite model: sidecar ``M.json`` "metadata" first, then ``--run`` (or the sidecar's run_dir)."""
    side = model_path.with_suffix(".json")
    meta = json.loads(side.read_text()).get("metadata", {}) if side.is_file() else {}
    run = run or (Path(meta["run_dir"]) if meta.get("run_dir") else None)
    has_run = run is not None and (run / "run.json").is_file()
    spec = ModelSpec.from_sidecar_file(model_path)
    if spec is None and not has_run:
        raise FileNotFoundError(f"{model_path}: no sidecar {side.name} with metadata ({', '.join(SIDECAR_KEYS)}) "
                                "and no --run folder")
    if has_run:
        run_sp, dd = run_spec(run, data_dir)
        return spec or run_sp, dd, run
    return spec, resolve_data_dir(data_dir), run


def _class_index(cls: str | None, classes: tuple[str, ...]) -> int | None:
    if cls is None:
        return None
    if cls in classes:
        return classes.index(cls)
    if cls.isdigit() and int(cls) < len(classes):
        return int(cls)
    raise ValueError(f"--class {cls!r}: not one of {classes}")


def subset(windows, k: int, seed: int):
    """At most ``k`` windows: one of each beat class first, then seeded random ones, in record order."""
    n = len(windows)
    if n <= k:
        return windows
    rng = np.random.default_rng(seed)
    first = [int(np.flatnonzero(windows.beat_class == c)[0]) for c in dict.fromkeys(windows.beat_class.tolist())]
    rest = np.setdiff1d(rng.permutation(n), first, assume_unique=False)
    rest = rng.permutation(rest)[:max(0, k - len(first))]
    return windows.take(np.sort(np.concatenate([first[:k], rest]).astype(np.int64)))


def figure_windows(windows, max_figures: int) -> list[int]:
    """Beat tasks: the first window of each beat class; segment tasks: the first quality-passing ones."""
    if windows.beat_class.size and windows.beat_class[0] != "":
        idx = [int(np.flatnonzero(windows.beat_class == c)[0]) for c in sorted(set(windows.beat_class.tolist()))]
    else:
        idx = list(np.flatnonzero(windows.ok)) or list(range(len(windows)))
    return [int(i) for i in idx[:max_figures]]


def _figure(out: Path, e, i: int, classes, heat_label: str, method_curve: str | None) -> Path:
    from .interpret.figures import plot_explanation

    w = e.windows
    curves = {}
    if method_curve is not None:
        curves[method_curve] = e.cam[i]
    curves.update({k: v[i] for k, v in e.attention.items()})
    cls = classes[int(e.target[i])]
    label = ""
    if w.y.ndim == 1 and w.y[i] >= 0:
        label = classes[int(w.y[i])]
    elif w.y.ndim == 2 and w.y[i].any():
        label = "+".join(c for c, v in zip(classes, w.y[i]) if v)
    truth = f", label {label}" if label else ""
    title = (f"record {w.record}, window at {w.start_s[i]:.2f} s{truth}; explained class {cls} "
             f"(p={e.probs[i, int(e.target[i])]:.2f}); R peaks: {w.rpeak_source}")
    heat = e.cam[i] if method_curve is not None else e.attention["guided_mask"][i]
    name = f"{w.record}_t{w.start_s[i]:08.2f}s_{label or 'unlabelled'}_explained-{cls}.png".replace("/", "_")
    return plot_explanation(out / name, w.x[i], w.fs, heat, curves, w.rpeaks[i], w.lead_names, title,
                            zones=e.zones[i], heat_label=heat_label)


def _accumulate(acc, e, database: str, top_fraction: float, heat) -> None:
    from .interpret.report import REFERENCE_ZONE, lead_shares, offset_profile, window_overlap
    from .interpret.zones import offset_to_nearest_r, zone_shares

    for i in range(len(e.windows)):
        shares = zone_shares(heat[i], e.zones[i])
        leads = lead_shares(e.gx[i]) if e.gx is not None else None
        hit, chance = window_overlap(heat[i], e.zones[i], REFERENCE_ZONE[database], top_fraction) \
            if shares is not None else (None, None)
        prof = offset_profile(heat[i], offset_to_nearest_r(e.windows.rpeaks[i], heat.shape[1], e.windows.fs))
        acc.add(shares, leads, int(e.target[i]), hit, chance, prof)


def _record_ids(run_dir: Path | None, args) -> list[str]:
    if run_dir is None:
        raise ValueError("--partition needs a run folder")
    return list(load_split(run_dir).partition(args.partition))


def explain_run(args) -> dict:
    """Keras run folder: CAM + attention figures and attribution."""
    from .interpret.cam import CamConfig, CamExplainer
    from .interpret.pipeline import ExplainConfig, explain_windows
    from .interpret.report import WindowAttribution, summarise, write_attribution
    from .interpret.windows import load_record_windows
    from .interpret.zones import ZoneConfig
    from .tasks import task_record_windows

    spec, data_dir = run_spec(args.model, args.data_dir)
    task = get_task(args.task or spec.task)
    pcfg = spec.preprocess
    out = Path(args.out or args.model / "explain")
    model = load_model(args.model / "model.keras")
    if args.export_tflite:
        export_attention(model, spec, data_dir, args)
        if not (args.record or args.partition):
            return {}
    cam_cfg = CamConfig(method=args.method, layer=args.layer)
    explainer = CamExplainer(model, cam_cfg)
    cfg = ExplainConfig(cam=cam_cfg, target=_class_index(args.cls, task.classes))
    acc = WindowAttribution()
    figures: list[Path] = []
    sources = set()
    refs = [r for r in (args.record or "").split(",") if r]
    if args.partition:
        ids = _record_ids(args.model, args)
        quota = max(1, math.ceil(args.max_windows / max(1, len(ids))))
        jobs = [(rid, lambda rid=rid: task_record_windows(task, data_dir, rid, pcfg)) for rid in ids]
        scope = f"partition {args.partition}"
    else:
        if not refs:
            raise ValueError("give --record REF[,REF...] or --partition test")
        quota = max(1, math.ceil(args.max_windows / len(refs)))
        jobs = [(r, lambda r=r: load_record_windows(task, r, data_dir, pcfg)) for r in refs]
        scope = f"record {args.record}"
    for ref in refs if args.partition else []:  # figures of the named records, attribution over the partition
        figs = load_record_windows(task, ref, data_dir, pcfg)
        e = explain_windows(model, explainer, spec.zscore, figs.take(figure_windows(figs, args.max_figures)),
                            task.prior_kind, cfg)
        figures += [_figure(out, e, i, task.classes, args.method, args.method) for i in range(len(e.windows))]
    n_done = 0
    for k, (rid, load) in enumerate(jobs):
        if n_done >= args.max_windows:
            break
        w = load()
        if w.ok.any():  # windows failing the quality gate are left out unless a record has no other
            w = w.take(np.flatnonzero(w.ok))
        if not len(w):
            continue
        w = subset(w, min(quota, args.max_windows - n_done), args.seed + k)
        e = explain_windows(model, explainer, spec.zscore, w, task.prior_kind, cfg)
        sources.add(w.rpeak_source)
        _accumulate(acc, e, task.database, cfg.top_fraction, e.cam_raw)
        n_done += len(w)
        if not args.partition or (not refs and len(figures) < args.max_figures):
            for i in figure_windows(w, args.max_figures - (len(figures) if args.partition else 0)):
                figures.append(_figure(out, e, i, task.classes, args.method, args.method))
    summary = summarise(acc, task.classes, tuple(e.windows.lead_names), args.method, task.name, task.database,
                        ZoneConfig.for_prior_kind(task.prior_kind), cfg.top_fraction, explainer.layer,
                        "/".join(sorted(sources)), scope)
    summary["figures"] = [f.name for f in figures]
    write_attribution(out, summary)
    return summary


def explain_tflite(args) -> dict:
    """Attention .tflite model: guided / spatial attention figures and a guided-mask attribution."""
    from .interpret.attention import TfliteAttention
    from .interpret.pipeline import Explanation
    from .interpret.report import WindowAttribution, summarise, write_attribution
    from .interpret.resample import resample_to_length
    from .interpret.windows import load_record_windows
    from .interpret.zones import ZoneConfig, zone_labels

    spec, data_dir, _ = tflite_spec(args.model, args.run, args.data_dir)
    task = get_task(args.task or spec.task)
    if not args.record:
        raise ValueError("a .tflite model is explained per record: give --record REF")
    out = Path(args.out or args.model.with_suffix("").with_name(args.model.stem + "_explain"))
    runner = TfliteAttention(str(args.model))
    w = subset(load_record_windows(task, args.record, data_dir, spec.preprocess), args.max_windows, args.seed)
    ecg = spec.prepare({"ecg": w.x, "prior": w.prior})["ecg"]
    res = [runner(ecg[i], w.prior[i]) for i in range(len(w))]
    t = ecg.shape[1]
    probs = np.stack([r["probs"] for r in res])
    att = {k: np.clip(resample_to_length(np.stack([r[k] for r in res]), t), 0, 1)
           for k in ("guided_mask", "spatial_attention") if k in res[0]}
    if not att:
        raise ValueError(f"{args.model}: no attention outputs (a plain classifier); export one with "
                         "python -m ecgnet_tf.explain RUN --export-tflite M.tflite [--int8]")
    zcfg = ZoneConfig.for_prior_kind(task.prior_kind)
    zones = np.stack([zone_labels(r, t, w.fs, zcfg) for r in w.rpeaks])
    key = "guided_mask" if "guided_mask" in att else next(iter(att))
    e = Explanation(w, probs, probs.argmax(1), att[key], att[key], att, None, zones)
    acc = WindowAttribution()
    _accumulate(acc, e, task.database, 0.10, att[key])
    figures = [_figure(out, e, i, task.classes, f"{key} (TFLite)", None) for i in figure_windows(w, args.max_figures)]
    summary = summarise(acc, task.classes, (), f"{key} (TFLite, no gradients)", task.name, task.database, zcfg, 0.10,
                        key, w.rpeak_source, f"record {args.record}")
    summary["figures"] = [f.name for f in figures]
    write_attribution(out, summary)
    return summary


def export_attention(model, spec: ModelSpec, data_dir: Path, args) -> Path:
    """Write the attention TFLite model and a sidecar JSON with the metadata the explainer needs."""
    from .interpret.attention import convert_attention_tflite
    from .tasks import task_record_windows

    rep = None
    if args.int8:
        ids = list(load_split(args.model).partition("train"))[:4]
        ws = [task_record_windows(get_task(spec.task), data_dir, r, spec.preprocess) for r in ids]
        x = np.concatenate([spec.prepare({"ecg": w.x[:16], "prior": w.prior[:16]})["ecg"] for w in ws])
        pr = np.concatenate([w.prior[:16] for w in ws])

        def rep():
            for i in range(min(len(x), 64)):
                yield [x[i:i + 1].astype(np.float32), pr[i:i + 1, :, None].astype(np.float32)]

    path = Path(args.export_tflite)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(convert_attention_tflite(model, rep, int8=args.int8))
    meta = {**spec.to_sidecar(), "run_dir": str(args.model),
            "outputs": ["probs", "guided_mask", "spatial_attention_map"], "int8": bool(args.int8)}
    path.with_suffix(".json").write_text(json.dumps({"metadata": meta}, indent=2))
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> None:
        summary = explain_tflite(args) if args.model.suffix == ".tflite" else explain_run(args)
        if summary:
            print(json.dumps({k: summary[k] for k in ("task", "scope", "method", "n_windows", "regions", "overlap")},
                             indent=2))

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
