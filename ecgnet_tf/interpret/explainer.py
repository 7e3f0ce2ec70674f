"""Explain a trained model (the library behind ``python -m ecgnet_tf.explain``): Grad-CAM / attention
figures and zone / lead attribution for a run folder, attention maps for an attention ``.tflite``,
and the attention TFLite export. :class:`ExplainRequest` holds the settings; :func:`explain` runs them.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runs import SIDECAR_KEYS, ModelSpec, RunConfig, load_model, load_split, sidecar_metadata
from ..settings import resolve_data_dir
from ..tasks import get_task

DEFAULT_MAX_WINDOWS = 256


@dataclass(frozen=True)
class ExplainRequest:
    """What to explain and where to write it (the ``explain`` command's options, same names).

    model: run folder (model.keras) or attention ``.tflite``. record: record id(s) under the data
    folder or WFDB path(s), comma-separated. partition: attribution over a partition of the run's
    split instead. out: output folder (default ``RUN/explain``). export_tflite: also write the
    attention TFLite model there (``int8``: full-int8).
    """

    model: Path
    record: str | None = None
    partition: str | None = None
    max_windows: int = DEFAULT_MAX_WINDOWS
    max_figures: int = 5
    task: str | None = None
    data_dir: str | None = None
    cls: str | None = None
    method: str = "gradcam"
    layer: str | None = None
    run: Path | None = None
    out: Path | None = None
    export_tflite: Path | None = None
    int8: bool = False
    seed: int = 0


def explain(req: ExplainRequest) -> dict:
    """Run a request: a ``.tflite`` model gets attention maps, a run folder CAM + attention; returns the
    attribution summary (empty when only the attention TFLite model was exported)."""
    return explain_tflite(req) if Path(req.model).suffix == ".tflite" else explain_run(req)


def run_spec(run_dir: Path, data_dir: str | None) -> tuple[ModelSpec, Path]:
    """The run's deployment spec and the data folder (``--data-dir``, else the run's, else the default)."""
    cfg = RunConfig.load(run_dir)
    dd = resolve_data_dir(data_dir) if data_dir else Path(cfg.data_dir) if cfg.data_dir else resolve_data_dir(None)
    return ModelSpec.from_run(run_dir), dd


def tflite_spec(model_path: Path, run: Path | None, data_dir: str | None) -> tuple[ModelSpec, Path, Path | None]:
    """Spec of a .tflite model: sidecar ``M.json`` "metadata" first, then ``--run`` (or the sidecar's run_dir)."""
    side = model_path.with_suffix(".json")
    meta = sidecar_metadata(model_path)
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
    from .figures import plot_explanation

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
    from .report import REFERENCE_ZONE, lead_shares, offset_profile, window_overlap
    from .zones import offset_to_nearest_r, zone_shares

    for i in range(len(e.windows)):
        shares = zone_shares(heat[i], e.zones[i])
        leads = lead_shares(e.gx[i]) if e.gx is not None else None
        hit, chance = window_overlap(heat[i], e.zones[i], REFERENCE_ZONE[database], top_fraction) \
            if shares is not None else (None, None)
        prof = offset_profile(heat[i], offset_to_nearest_r(e.windows.rpeaks[i], heat.shape[1], e.windows.fs))
        acc.add(shares, leads, int(e.target[i]), hit, chance, prof)


def _record_ids(run_dir: Path | None, req: ExplainRequest) -> list[str]:
    if run_dir is None:
        raise ValueError("--partition needs a run folder")
    return list(load_split(run_dir).partition(req.partition))


def explain_run(req: ExplainRequest) -> dict:
    """Keras run folder: CAM + attention figures and attribution."""
    from .cam import CamConfig, CamExplainer
    from .pipeline import ExplainConfig, explain_windows
    from .report import WindowAttribution, summarise, write_attribution
    from .windows import load_record_windows
    from .zones import ZoneConfig
    from ..tasks import task_record_windows

    spec, data_dir = run_spec(req.model, req.data_dir)
    if "rr" in spec.inputs or "morph" in spec.inputs:
        raise ValueError(f"{req.model}: explaining models with an RR-interval or beat-template input is not "
                         "supported yet")
    task = get_task(req.task or spec.task)
    pcfg = spec.preprocess
    out = Path(req.out or req.model / "explain")
    model = load_model(req.model / "model.keras")
    if req.export_tflite:
        export_attention(model, spec, data_dir, req)
        if not (req.record or req.partition):
            return {}
    cam_cfg = CamConfig(method=req.method, layer=req.layer)
    explainer = CamExplainer(model, cam_cfg)
    cfg = ExplainConfig(cam=cam_cfg, target=_class_index(req.cls, task.classes))
    acc = WindowAttribution()
    figures: list[Path] = []
    sources = set()
    refs = [r for r in (req.record or "").split(",") if r]
    if req.partition:
        ids = _record_ids(req.model, req)
        quota = max(1, math.ceil(req.max_windows / max(1, len(ids))))
        jobs = [(rid, lambda rid=rid: task_record_windows(task, data_dir, rid, pcfg)) for rid in ids]
        scope = f"partition {req.partition}"
    else:
        if not refs:
            raise ValueError("give --record REF[,REF...] or --partition test")
        quota = max(1, math.ceil(req.max_windows / len(refs)))
        jobs = [(r, lambda r=r: load_record_windows(task, r, data_dir, pcfg)) for r in refs]
        scope = f"record {req.record}"
    for ref in refs if req.partition else []:  # figures of the named records, attribution over the partition
        figs = load_record_windows(task, ref, data_dir, pcfg)
        e = explain_windows(model, explainer, spec.zscore, figs.take(figure_windows(figs, req.max_figures)),
                            task.prior_kind, cfg)
        figures += [_figure(out, e, i, task.classes, req.method, req.method) for i in range(len(e.windows))]
    n_done = 0
    for k, (rid, load) in enumerate(jobs):
        if n_done >= req.max_windows:
            break
        w = load()
        if w.ok.any():  # windows failing the quality gate are left out unless a record has no other
            w = w.take(np.flatnonzero(w.ok))
        if not len(w):
            continue
        w = subset(w, min(quota, req.max_windows - n_done), req.seed + k)
        e = explain_windows(model, explainer, spec.zscore, w, task.prior_kind, cfg)
        sources.add(w.rpeak_source)
        _accumulate(acc, e, task.database, cfg.top_fraction, e.cam_raw)
        n_done += len(w)
        if not req.partition or (not refs and len(figures) < req.max_figures):
            for i in figure_windows(w, req.max_figures - (len(figures) if req.partition else 0)):
                figures.append(_figure(out, e, i, task.classes, req.method, req.method))
    summary = summarise(acc, task.classes, tuple(e.windows.lead_names), req.method, task.name, task.database,
                        ZoneConfig.for_prior_kind(task.prior_kind), cfg.top_fraction, explainer.layer,
                        "/".join(sorted(sources)), scope)
    summary["figures"] = [f.name for f in figures]
    write_attribution(out, summary)
    return summary


def explain_tflite(req: ExplainRequest) -> dict:
    """Attention .tflite model: guided / spatial attention figures and a guided-mask attribution."""
    from .attention import TfliteAttention
    from .pipeline import Explanation
    from .report import WindowAttribution, summarise, write_attribution
    from .resample import resample_to_length
    from .windows import load_record_windows
    from .zones import ZoneConfig, zone_labels

    spec, data_dir, _ = tflite_spec(req.model, req.run, req.data_dir)
    task = get_task(req.task or spec.task)
    if not req.record:
        raise ValueError("a .tflite model is explained per record: give --record REF")
    out = Path(req.out or req.model.with_suffix("").with_name(req.model.stem + "_explain"))
    runner = TfliteAttention(str(req.model))
    w = subset(load_record_windows(task, req.record, data_dir, spec.preprocess), req.max_windows, req.seed)
    ecg = spec.prepare({"ecg": w.x, "prior": w.prior})["ecg"]
    res = [runner(ecg[i], w.prior[i]) for i in range(len(w))]
    t = ecg.shape[1]
    probs = np.stack([r["probs"] for r in res])
    att = {k: np.clip(resample_to_length(np.stack([r[k] for r in res]), t), 0, 1)
           for k in ("guided_mask", "spatial_attention") if k in res[0]}
    if not att:
        raise ValueError(f"{req.model}: no attention outputs (a plain classifier); export one with "
                         "python -m ecgnet_tf.explain RUN --export-tflite M.tflite [--int8]")
    zcfg = ZoneConfig.for_prior_kind(task.prior_kind)
    zones = np.stack([zone_labels(r, t, w.fs, zcfg) for r in w.rpeaks])
    key = "guided_mask" if "guided_mask" in att else next(iter(att))
    e = Explanation(w, probs, probs.argmax(1), att[key], att[key], att, None, zones)
    acc = WindowAttribution()
    _accumulate(acc, e, task.database, 0.10, att[key])
    figures = [_figure(out, e, i, task.classes, f"{key} (TFLite)", None) for i in figure_windows(w, req.max_figures)]
    summary = summarise(acc, task.classes, (), f"{key} (TFLite, no gradients)", task.name, task.database, zcfg, 0.10,
                        key, w.rpeak_source, f"record {req.record}")
    summary["figures"] = [f.name for f in figures]
    write_attribution(out, summary)
    return summary


def export_attention(model, spec: ModelSpec, data_dir: Path, req: ExplainRequest) -> Path:
    """Write the attention TFLite model and a sidecar JSON with the metadata the explainer needs."""
    from ..tasks import task_record_windows
    from .attention import convert_attention_tflite

    rep = None
    if req.int8:  # calibration windows from the run's training records only
        ids = list(load_split(req.model).partition("train"))[:4]
        ws = [task_record_windows(get_task(spec.task), data_dir, r, spec.preprocess) for r in ids]
        feed = [spec.prepare({"ecg": w.x[:16], "prior": w.prior[:16]}) for w in ws]
        x = np.concatenate([f["ecg"] for f in feed])
        pr = np.concatenate([f["prior"] for f in feed])

        def calibration():
            for i in range(min(len(x), 64)):
                yield [x[i:i + 1], pr[i:i + 1]]

        rep = calibration

    path = Path(req.export_tflite)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(convert_attention_tflite(model, rep, int8=req.int8))
    meta = {**spec.to_sidecar(), "run_dir": str(req.model),
            "outputs": ["probs", "guided_mask", "spatial_attention_map"], "int8": bool(req.int8)}
    path.with_suffix(".json").write_text(json.dumps({"metadata": meta}, indent=2))
    return path
