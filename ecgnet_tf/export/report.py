"""The export report: int8 size, agreement, task-metric change and latency against their targets, measured
side by side in one run, with the measured cause of every missed target.

    python -m export.report [--out-dir docs/results/export] [--work-dir runs/export-report]
                            [--run mitdb=runs/beat-study/final-s0 --run cinc2017=runs/cinc-cv/f0
                             --run ptbxl-mi=runs/mi-cv/guided-f0]

For each reference run: the float32 TFLite export (the latency reference; parity on a few test
windows), the int8 export with ``--float-fallback auto`` under the size budget (parity and task
metrics on **every** window of the test partition; a record-level run whose test partition holds a
few dozen records, PTB-XL's, is judged by its records' largest probability difference and AUC change
instead of window agreement), and ``export.benchmark --compare INT8 FLOAT32``
(interleaved, one thread, in a process that never loaded TensorFlow). Then the 12x3600 latency pair
of ``export.reference_models`` (``edge`` int8 against ``paper`` float32, random weights: latency and
size do not depend on them). Where int8 is slower than its float32 export, the latency is split by
section of ops (:mod:`ecgnet_tf.export.profile`). ``--qat`` adds each run's ``--mode qat`` export (same
fallback options, every test window) and a table comparing it with the post-training int8 export.
Every figure comes from the JSON those commands write; this module only compares them with
:data:`TARGETS` and writes ``report.md`` and ``summary.json``.

Exports are reused when their JSON exists (``--fresh`` redoes them), so a crashed run resumes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: target name -> (threshold, "min" (measured >= threshold) or "max" (measured <= threshold), what it means)
TARGETS: dict[str, tuple[float, str, str]] = {
    "top1_agreement": (0.995, "min", "int8 top-1 agreement with the float model, every test window"),
    "macro_f1_delta_points": (0.5, "max", "|int8 - float| macro-F1 (points), every test window"),
    "int8_bytes": (1_000_000, "max", "edge int8 file size (bytes)"),
    "latency_ratio": (0.8, "max", "int8 p50 / float32 TFLite p50 of the same model (1 thread, interleaved)"),
    "edge_int8_vs_paper_float32": (6.0, "min", "12x3600 paper float32 p50 / edge int8 p50"),
    "record_prob_diff": (0.02, "max", "max |int8 - float| record-level probability, every test record"),
    "auc_delta": (0.005, "max", "max |int8 - float| record-level ROC AUC of a class, every test record"),
}
#: a record-level test partition of at most this many records is judged by its records' probabilities and
#: AUC instead of window agreement (PTB-XL: a few dozen records per fold)
FEW_RECORDS = 200
DEFAULT_RUNS = (("mitdb", "runs/beat-study/final-s0"), ("cinc2017", "runs/cinc-cv/f0"),
                ("ptbxl-mi", "runs/mi-cv/guided-f0"))


@dataclass(frozen=True)
class ExportReportConfig:
    """What ``python -m export.report`` measures. Paths: ``out_dir`` gets report.md / summary.json (into
    the repository), ``work_dir`` the .tflite files and raw JSON (not into the repository)."""

    runs: tuple[tuple[str, str], ...] = DEFAULT_RUNS
    out_dir: Path = Path("docs/results/export")
    work_dir: Path = Path("runs/export-report")
    fallback: str = "auto"
    fallback_weights: str = "int8"  # the published models' options (export.publish)
    float_lstm: bool = True
    speed_layers: tuple[str, ...] = ()  # layers kept float for latency in every run (--float-for-speed)
    #: (task, layers) kept float for latency in that run only (--float-for-speed TASK=LAYER,...), on top
    run_speed_layers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: also export each run with QAT (``export.quantize --mode qat``, same fallback options) and compare
    qat: bool = False
    qat_windows: int = 2048
    qat_epochs: int = 2
    #: (task, layers) left out of that run's QAT simulation (--qat-float TASK=LAYER,...)
    qat_float: tuple[tuple[str, tuple[str, ...]], ...] = ()
    max_bytes: int = 1_000_000
    target_agreement: float = 0.995
    selection: int = 600
    calibration: int = 1000
    bench_runs: int = 100
    bench_warmup: int = 10
    float_parity_windows: int = 200
    fresh: bool = False
    data_dir: Path | None = None
    cache_dir: Path | None = None
    reference_shape: tuple[int, int] = (3600, 12)  # samples, leads of the latency pair
    stages: tuple[str, ...] = field(default=("export", "bench", "reference", "report"))

    def speed_layers_of(self, task: str) -> tuple[str, ...]:
        """The layers run ``task`` keeps float for latency."""
        extra = [layer for t, layers in self.run_speed_layers if t == task for layer in layers]
        return tuple(dict.fromkeys([*self.speed_layers, *extra]))

    def qat_float_of(self, task: str) -> tuple[str, ...]:
        """The layers run ``task`` leaves out of its QAT simulation."""
        return tuple(layer for t, layers in self.qat_float if t == task for layer in layers)


def _check(name: str, measured: float | None, threshold: float | None = None) -> dict:
    thr, kind, what = TARGETS[name]
    thr = thr if threshold is None else threshold
    if measured is None:
        return {"target": name, "what": what, "threshold": thr, "kind": kind, "measured": None, "met": None}
    met = measured >= thr if kind == "min" else measured <= thr
    return {"target": name, "what": what, "threshold": thr, "kind": kind, "measured": measured, "met": bool(met),
            "margin": (measured - thr) if kind == "min" else (thr - measured)}


def _bench(models: list[Path], out: Path, cfg: ExportReportConfig) -> dict:
    """``export.benchmark --compare`` in its own process (no TensorFlow loaded): its JSON."""
    if cfg.fresh or not out.is_file():
        cmd = [sys.executable, "-m", "ecgnet_tf.export.benchmark", "--compare", *map(str, models), "--threads", "1",
               "--runs", str(cfg.bench_runs), "--warmup", str(cfg.bench_warmup), "--json", str(out),
               "--markdown", str(out.with_suffix(".md"))]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def _export(run_dir: Path, mode: str, out: Path, cfg: ExportReportConfig, **kw) -> dict:
    from .quantize import quantize_run

    if out.with_suffix(".json").is_file() and out.is_file() and not cfg.fresh:
        return json.loads(out.with_suffix(".json").read_text())
    return quantize_run(run_dir, mode, out, data_dir=cfg.data_dir, calibration=cfg.calibration,
                        cache_dir=cfg.cache_dir, **kw)


def _cause_agreement(rep: dict) -> str:
    """What the float-fallback search measured about the missed agreement (no guess)."""
    fb = rep.get("float_fallback") or {}
    single = fb.get("single_layer") or {}
    over = [(k, v) for k, v in single.items() if v["selection_agreement"] >= fb.get("target_agreement", 1)]
    parts = [f"all-int8 selection agreement {fb['all_int8']['selection_agreement']:.4f}" if fb.get("all_int8") else ""]
    if fb.get("lstm_layers") and fb.get("start"):
        parts.append(f"BiLSTMs {', '.join(fb['lstm_layers'])} float ({fb.get('weights')} weights): "
                     f"{fb['start']['selection_agreement']:.4f}; single layers below are tried on top of them")
    if fb.get("float_layers"):
        parts.append(f"chosen float layers {', '.join(fb['float_layers'])} -> "
                     f"{fb['chosen']['selection_agreement']:.4f} on {fb['selection']['n']} validation windows")
    if over:
        parts.append("layers that alone reach the target on the validation windows but exceed the size budget: "
                     + ", ".join(f"{k} ({v['selection_agreement']:.4f}, {v['size_bytes']:,} B)" for k, v in over[:3]))
    elif single:
        k, v = next(iter(single.items()))
        parts.append(f"best single float layer {k}: {v['selection_agreement']:.4f} ({v['size_bytes']:,} B)")
    return "; ".join(p for p in parts if p)


def _cause_anatomy(parity: dict) -> str:
    """Which class pairs the int8 and float top-1 classes differ on, how close the float model's top two
    classes were there, and the agreement of the run's decisions (from ``parity.anatomy`` / ``decision``)."""
    a, dec = parity.get("anatomy"), parity.get("decision") or {}
    if not a or not a.get("n_differ"):
        return ""
    pairs = ", ".join(f"{k} {v:,}" for k, v in list(a["pairs"].items())[:4])
    text = f"{a['n_differ']:,} windows differ (float -> int8: {pairs})"
    if a.get("n_differ_between_merged_classes"):
        text += (f"; {a['n_differ_between_merged_classes']:,} of them between classes the run's decision rule merges "
                 "(a difference its decisions cannot show)")
    share = a["float_margin"].get("share_of_differ_below_0.05")
    if share is not None:
        text += (f"; on {share:.0%} of them the float model's top two classes were within 0.05 (on "
                 f"{a['float_margin']['share_of_all_below_0.05']:.0%} of all windows)")
    if dec.get("n"):
        text += f"; the run's {dec['level']}-level decisions agree on {dec['agreement']:.4f} ({dec['n_disagree']:,} of {dec['n']:,} differ)"
    return text


def _cause_activations(control: dict) -> str:
    """The measured trade-off of keeping every activation float (the dynamic-range control)."""
    p = control["parity"]
    return (f"with every activation float (dynamic range, int8 weights) agreement is {p['top1_agreement']:.4f} on "
            f"{p['n']:,} windows at {control['size_bytes']:,} B, but p50 is {control['ratio_to_float32']:.2f}x float32's: "
            "the disagreements come from int8 activations, and float activations forgo int8's speed")


def agreement_checks(rep: dict) -> list[dict]:
    """How an int8 export's agreement with its float model is judged: top-1 agreement over every test
    window, or, for a record-level task whose test partition holds at most :data:`FEW_RECORDS` records
    (where a window count says little), the largest record-level probability difference and the largest
    change of a class's record-level ROC AUC."""
    dec = rep["parity"].get("decision") or {}
    auc = (rep.get("metric_deltas") or {}).get("auc")
    if dec.get("level") == "record" and 0 < dec.get("n", 0) <= FEW_RECORDS and auc and "max_abs_prob_diff" in dec:
        return [_check("record_prob_diff", dec["max_abs_prob_diff"]), _check("auc_delta", auc["max_abs_delta"])]
    return [_check("top1_agreement", rep["parity"]["top1_agreement"])]


def _cause_auc(deltas: dict) -> str:
    """The per-class AUC of both models (from ``metric_deltas.auc``)."""
    auc = deltas.get("auc") or {}
    return ", ".join(f"{c}: AUC float {v['float']:.4f}, int8 {v['int8']:.4f} ({v['n_positive']} positive records)"
                     for c, v in (auc.get("per_class") or {}).items() if v.get("float") is not None)


def delegation(path: Path) -> dict:
    """How XNNPACK splits a model: its partitions and the ops it leaves to LiteRT's builtin kernels."""
    from ai_edge_litert.interpreter import Interpreter

    from .tflite import make_interpreter, read_tflite

    data = read_tflite(path)
    fused = make_interpreter(data, xnnpack=True)
    partitions = sum(1 for op in fused._get_ops_details() if op["op_name"] == "DELEGATE")  # noqa: SLF001
    # one delegate node per delegated op: the ops whose outputs no delegate node writes run on builtin kernels
    single = Interpreter(model_content=bytes(data), num_threads=1, experimental_disable_delegate_node_fusion=True)
    single.allocate_tensors()
    ops = single._get_ops_details()  # noqa: SLF001 - LiteRT's only view of the graph
    delegated = {int(i) for op in ops if op["op_name"] == "DELEGATE" for i in op["outputs"]}
    left: dict[str, int] = {}
    for op in ops:
        if op["op_name"] != "DELEGATE" and not {int(i) for i in op["outputs"]} <= delegated:
            left[op["op_name"]] = left.get(op["op_name"], 0) + 1
    return {"xnnpack_partitions": partitions, "builtin_ops": dict(sorted(left.items(), key=lambda kv: -kv[1]))}


def _cause_latency(path: Path, reference: Path | None = None, sections: dict | None = None) -> str:
    """The sections of ops where the int8 model loses most time against the reference (measured by
    :func:`~ecgnet_tf.export.profile.compare_sections`), then both models' XNNPACK partitions and the
    ops left to the builtin kernels."""
    def one(p: Path) -> str:
        d = delegation(p)
        ops = ", ".join(f"{k} {v}" for k, v in d["builtin_ops"].items())
        return f"{p.name}: {d['xnnpack_partitions']} XNNPACK partitions, builtin-kernel ops: {ops or 'none'}"

    text = one(path) + ("" if reference is None else "; " + one(reference))
    if sections:
        worst = sorted(sections["sections"], key=lambda r: -(r["int8_ms"] - r["float32_ms"]))[:2]
        text = ("slowest int8 sections: " + "; ".join(
            f"ops {r['ops']} ({', '.join(f'{k} {v}' for k, v in r['op_types'].items())}): int8 {r['int8_ms']:.3f} ms "
            f"vs float32 {r['float32_ms']:.3f} ms" for r in worst) + ". " + text)
    return text


def _sections(int8: Path, float32: Path, out: Path, cfg: ExportReportConfig) -> dict:
    """:func:`~ecgnet_tf.export.profile.compare_sections` of the pair in its own process (no TensorFlow)."""
    if cfg.fresh or not out.is_file():
        code = ("import json, sys; from ecgnet_tf.export.profile import compare_sections; "
                "from ecgnet_tf.export.tflite import read_tflite; "
                "json.dump(compare_sections(read_tflite(sys.argv[1]), read_tflite(sys.argv[2]), runs=int(sys.argv[4])), "
                "open(sys.argv[3], 'w'), indent=2)")
        subprocess.run([sys.executable, "-c", code, str(int8), str(float32), str(out), str(cfg.bench_runs)],
                       check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def run_model(task: str, run_dir: Path, cfg: ExportReportConfig, log=print) -> dict:
    """Exports, parity and the interleaved benchmark of one reference run."""
    from .fallback import FallbackConfig

    work = Path(cfg.work_dir) / task
    work.mkdir(parents=True, exist_ok=True)
    f32, i8 = work / "float32.tflite", work / "int8.tflite"
    t0 = time.time()
    log(f"{task}: float32 export")
    r32 = _export(run_dir, "float32", f32, cfg, max_eval=cfg.float_parity_windows)
    log(f"{task}: int8 export, float fallback {cfg.fallback}{' + BiLSTMs' if cfg.float_lstm else ''} "
        f"(weights {cfg.fallback_weights}), parity on every test window")
    fb = FallbackConfig.parse(cfg.fallback, target_agreement=cfg.target_agreement, max_bytes=cfg.max_bytes,
                              selection_windows=cfg.selection, weights=cfg.fallback_weights,
                              lstm=cfg.float_lstm, speed_layers=cfg.speed_layers_of(task))
    r8 = _export(run_dir, "int8", i8, cfg, fallback=fb)
    # control: int8 weights with float activations (dynamic range), what keeping every activation
    # float would buy in agreement and cost in latency (measured in the same interleaved benchmark)
    dyn = work / "dynamic.tflite"
    log(f"{task}: dynamic-range export (int8 weights, float activations), parity on every test window")
    rdyn = _export(run_dir, "dynamic", dyn, cfg)
    log(f"{task}: benchmark --compare int8 float32 dynamic")
    bench = _bench([i8, f32, dyn], work / "compare3.json", cfg)
    p50 = {Path(k).name: v["p50_ms"] for k, v in bench["models"].items()}
    ratio = p50[i8.name] / p50[f32.name]
    control = {"path": str(dyn), "size_bytes": rdyn["size_bytes"], "parity": rdyn["parity"],
               "p50_ms": p50[dyn.name], "ratio_to_float32": p50[dyn.name] / p50[f32.name]}
    sections = _sections(i8, f32, work / "sections.json", cfg)
    d = r8["metric_deltas"]
    checks = [*agreement_checks(r8),
              _check("macro_f1_delta_points", abs(d["macro_f1"]["delta_points"])),
              _check("int8_bytes", r8["size_bytes"]),
              _check("latency_ratio", ratio)]
    for c in checks:
        if c["met"] is False:
            c["cause"] = {"top1_agreement": lambda: "; ".join(t for t in (
                                _cause_anatomy(r8["parity"]), _cause_agreement(r8), _cause_activations(control)) if t),
                          "record_prob_diff": lambda: "; ".join(t for t in (
                                _cause_agreement(r8), _cause_activations(control)) if t),
                          "auc_delta": lambda: "; ".join(t for t in (
                                _cause_auc(d), _cause_agreement(r8), _cause_activations(control)) if t),
                          "macro_f1_delta_points": lambda: "follows the int8 disagreements: " + _cause_agreement(r8),
                          "int8_bytes": lambda: f"float layers kept: {', '.join(r8.get('float_fallback', {}).get('float_layers', [])) or 'none'}",
                          "latency_ratio": lambda: _cause_latency(i8, f32, sections)}[c["target"]]()
    qat = None
    if cfg.qat:
        log(f"{task}: QAT export ({cfg.qat_windows} training windows x {cfg.qat_epochs} epochs, distilled), "
            "same fallback options, parity on every test window")
        rq = _export(run_dir, "qat", work / "qat.tflite", cfg, fallback=fb, qat_windows=cfg.qat_windows,
                     qat_epochs=cfg.qat_epochs, qat_float=cfg.qat_float_of(task))
        qat = qat_summary(rq)
    return {"task": task, "run_dir": str(run_dir), "config": r8["config"], "qat": qat,
            "int8": {"path": str(i8), "size_bytes": r8["size_bytes"], "parity": r8["parity"],
                     "metric_deltas": d, "float_fallback": {k: r8.get("float_fallback", {}).get(k) for k in
                                                            ("float_layers", "weights", "stored_weights", "lstm_layers",
                                                             "start",
                                                             "chosen", "all_int8", "size_cost_bytes",
                                                             "selection", "steps")},
                     "scale_repairs": r8.get("scale_repairs") or (r8.get("float_fallback") or {}).get(
                         "repaired_scale_mismatches", []), "ops": r8["ops"], "delegation": delegation(i8)},
            "float32": {"path": str(f32), "size_bytes": r32["size_bytes"], "parity": r32["parity"],
                        "delegation": delegation(f32)},
            "latency": {"int8_p50_ms": p50[i8.name], "float32_p50_ms": p50[f32.name], "ratio": ratio,
                        "runs": bench["runs"], "environment": bench["environment"], "sections": sections},
            "dynamic_range": control, "checks": checks, "seconds": round(time.time() - t0, 1),
            "export_seconds": float(r8.get("seconds", 0)) + float(r32.get("seconds", 0))}


def qat_summary(rep: dict) -> dict:
    """What the report shows of a ``--mode qat`` export (or of the int8 one beside it): size, parity,
    task-metric changes and the fine-tune."""
    dec = rep["parity"].get("decision") or {}
    auc = (rep.get("metric_deltas") or {}).get("auc") or {}
    q = rep.get("qat") or {}
    return {"size_bytes": rep["size_bytes"], "top1_agreement": rep["parity"]["top1_agreement"],
            "n": rep["parity"]["n"], "decision_agreement": dec.get("agreement"),
            "decision_max_abs_prob_diff": dec.get("max_abs_prob_diff"),
            "macro_f1_delta_points": rep["metric_deltas"]["macro_f1"]["delta_points"],
            "auc_max_abs_delta": auc.get("max_abs_delta"),
            "float_layers": (rep.get("float_fallback") or {}).get("float_layers"),
            "fine_tune": {k: q.get(k) for k in ("windows", "epochs", "lr", "seconds", "calibrated_ranges")},
            "not_simulated": q.get("float_layers")}


def qat_table(models: list[dict]) -> list[str]:
    """Markdown rows comparing each run's QAT export with its PTQ (int8) export."""
    rows = [m for m in models if m.get("qat")]
    if not rows:
        return []
    lines = ["", "## QAT against post-training quantisation (same runs, options and test windows)", "",
             "`export.quantize --mode qat`: fine-tuned with int8 rounding simulated on the convolutions, BatchNorms, "
             "ReLUs and dense layers, distilled from the float model on training windows, then converted like int8 "
             "(its own float fallback, chosen on validation windows). Agreement is with the original float model.", "",
             "| model | export | top-1 agreement | decisions agree | max record |dp| | macro-F1 delta (points) "
             "| max AUC change | bytes |", "|---|---|---|---|---|---|---|---|"]

    def cell(v, fmt):
        return "-" if v is None else format(v, fmt)

    for m in rows:
        record = (m["int8"]["parity"].get("decision") or {}).get("level") == "record"
        ft = m["qat"].get("fine_tune") or {}
        label = f"QAT ({ft.get('windows')} windows x {ft.get('epochs')} epochs, lr {ft.get('lr')})"
        for name, r in (("PTQ (int8)", qat_summary(m["int8"])), (label, dict(m["qat"]))):
            if not record:  # record-level figures only where the task decides per record
                r.update(decision_max_abs_prob_diff=None, auc_max_abs_delta=None)
            lines.append(f"| {m['task']} | {name} | {r['top1_agreement']:.4f} | {cell(r['decision_agreement'], '.4f')} | "
                         f"{cell(r['decision_max_abs_prob_diff'], '.4f')} | {r['macro_f1_delta_points']:+.2f} | "
                         f"{cell(r['auc_max_abs_delta'], '.4f')} | {r['size_bytes']:,} |")
    return lines


def reference_pair(cfg: ExportReportConfig, log=print) -> dict:
    """``edge`` int8 and ``paper`` float32 at ``cfg.reference_shape`` (random weights), sizes and speedup."""
    from .reference_models import export_reference

    samples, leads = cfg.reference_shape
    work = Path(cfg.work_dir) / f"reference_{leads}x{samples}"
    work.mkdir(parents=True, exist_ok=True)
    edge, paper = work / "edge_int8.tflite", work / "paper_float32.tflite"
    info = {}
    for path, config, mode in ((edge, "edge", "int8"), (paper, "paper", "float32")):
        if cfg.fresh or not path.with_suffix(".json").is_file():
            log(f"reference {config} {mode} {leads}x{samples}")
            export_reference(config, samples, leads, mode, path, lstm_weights=(
                cfg.fallback_weights if cfg.float_lstm and mode == "int8" else None))
        info[path.name] = json.loads(path.with_suffix(".json").read_text())
    bench = _bench([edge, paper], work / "compare.json", cfg)
    p50 = {Path(k).name: v["p50_ms"] for k, v in bench["models"].items()}
    speedup = p50[paper.name] / p50[edge.name]
    checks = [_check("int8_bytes", info[edge.name]["size_bytes"]), _check("edge_int8_vs_paper_float32", speedup)]
    for c in checks:
        if c["met"] is False and c["target"] == "int8_bytes":
            from .inspect import tensor_breakdown
            from .tflite import read_tflite

            s = tensor_breakdown(read_tflite(edge))
            top = s["tensors"][:3]
            c["cause"] = (f"constants by type {s['constant_bytes']}, not tensor data {s['other_bytes']:,} B; largest "
                          + ", ".join(f"`{t['name'][:60]}` {t['dtype']} {t['shape']} {t['bytes']:,} B" for t in top))
        elif c["met"] is False:
            c["cause"] = _cause_latency(edge, paper)
    return {"shape": {"samples": samples, "leads": leads}, "edge_int8": {"path": str(edge), **info[edge.name]},
            "paper_float32": {"path": str(paper), **info[paper.name]},
            "latency": {"edge_int8_p50_ms": p50[edge.name], "paper_float32_p50_ms": p50[paper.name],
                        "speedup": speedup, "runs": bench["runs"]}, "checks": checks}


def _fmt(c: dict) -> str:
    m = c["measured"]
    if m is None:
        return "not measured"
    if c["target"] == "int8_bytes":
        return f"{m:,.0f} B"
    if c["target"] in ("top1_agreement", "record_prob_diff", "auc_delta"):
        return f"{m:.4f}"
    return f"{m:.3f}"


def _weights_note(fb: dict) -> str:
    """", weights stored as float16 (N tensors, A -> B B, ...)" when the float layers' weights are not float32."""
    h = fb.get("stored_weights") or {}
    if fb.get("weights") in (None, "float32") or not h.get("tensors"):
        return ""
    return (f", weights stored as {fb['weights']} ({', '.join(h['readers'])}: {h['tensors']} tensors, "
            f"{h['float32_bytes']:,} -> {h['stored_bytes']:,} B, "
            f"rounding error at most {h['max_relative_error']:.1e} of a tensor's largest weight)")


def _lstm_note(info: dict) -> str:
    """" (BiLSTMs float, int8 weights)" for a reference model exported with ``lstm_weights``."""
    f = info.get("float_lstm")
    return f" (BiLSTMs {', '.join(f['layers'])} float, {f['weights']} weights)" if f else ""


def _options_note(o: dict | None) -> str:
    """The command's fallback options, as flags."""
    if not o:
        return ""
    flags = [f"--float-fallback {o['float_fallback']}", f"--max-bytes {o['max_bytes']}"]
    if o.get("float_lstm"):
        flags.append("--float-lstm")
    if o.get("speed_layers"):
        flags.append(f"--float-for-speed {','.join(o['speed_layers'])}")
    for task, layers in o.get("run_speed_layers") or []:
        flags.append(f"--float-for-speed {task}={','.join(layers)}")
    if o.get("qat"):
        flags.append("--qat")
    for task, layers in o.get("qat_float") or []:
        flags.append(f"--qat-float {task}={','.join(layers)}")
    if o.get("fallback_weights", "float32") != "float32":
        flags.append(f"--fallback-weights {o['fallback_weights']}")
    return " Options: `" + " ".join(flags) + "`."


def markdown(summary: dict) -> str:
    lines = ["# int8 export report (generated by `python -m export.report`)", "",
             f"Generated {summary['generated']} on `{summary['host_cpu']}` (exports: "
             + ", ".join(f"{m['task']} {m['export_seconds']:.0f} s" for m in summary["models"]) + ") "
             "(latency: one thread, models interleaved in one process, XNNPACK). Parity and task metrics: every "
             "window of each run's test partition. Float fallback: chosen on validation windows only."
             + _options_note(summary.get("options")), "",
             "| model | target | threshold | measured | met | margin | measured cause when missed |", "|---|---|---|---|---|---|---|"]
    rows = [(m["task"], c) for m in summary["models"] for c in m["checks"]]
    ref = summary.get("reference")
    if ref:
        rows += [(f"reference {ref['shape']['leads']}x{ref['shape']['samples']}", c) for c in ref["checks"]]
    for name, c in rows:
        met = {True: "met", False: "**missed**", None: "-"}[c["met"]]
        thr = f"{'>=' if c['kind'] == 'min' else '<='} {c['threshold']:,}"
        margin = "" if c.get("margin") is None else f"{c['margin']:+,.4g}"
        lines.append(f"| {name} | {c['what']} | {thr} | {_fmt(c)} | {met} | {margin} | {c.get('cause', '')} |")
    for m in summary["models"]:
        i8, p = m["int8"], m["int8"]["parity"]
        fb = i8["float_fallback"]
        d = i8["metric_deltas"]
        lines += ["", f"## {m['task']} (`{m['run_dir']}`, {m['config']})", "",
                  f"- int8 file {i8['size_bytes']:,} B (float32 {m['float32']['size_bytes']:,} B); float layers: "
                  f"{', '.join(fb.get('float_layers') or []) or 'none'}{_weights_note(fb)} "
                  f"(size cost {fb.get('size_cost_bytes') or 0:,} B; "
                  f"validation agreement all-int8 {fb['all_int8']['selection_agreement']:.4f} -> chosen "
                  f"{fb['chosen']['selection_agreement']:.4f} on {fb['selection']['n']} windows)" if fb.get("chosen") else
                  f"- int8 file {i8['size_bytes']:,} B (float32 {m['float32']['size_bytes']:,} B)",
                  f"- parity on {p['n']:,} test windows ({p['subset']}): top-1 agreement {p['top1_agreement']:.4f}, "
                  f"mean |dp| {p['mean_abs_prob_diff']:.4f}; {p['decision']['level']}-level decisions agree on "
                  f"{p['decision']['agreement']:.4f} of {p['decision']['n']:,} ({p['decision']['n_disagree']} differ)",
                  f"- macro-F1 float {d['macro_f1']['float']:.4f}, int8 {d['macro_f1']['int8']:.4f} "
                  f"({d['macro_f1']['delta_points']:+.2f} points); per class: "
                  + ", ".join(f"{c} {v['delta_points']:+.2f}" for c, v in d["per_class_f1"].items()),
                  f"- latency p50 int8 {m['latency']['int8_p50_ms']:.2f} ms, float32 {m['latency']['float32_p50_ms']:.2f} ms "
                  f"(ratio {m['latency']['ratio']:.3f}, {m['latency']['runs']} interleaved runs)"]
        auc = d.get("auc")
        if auc and auc.get("level") == "record" and "max_abs_prob_diff" in p["decision"]:
            lines.append(f"- record level ({auc['n']} test records): max |dp| {p['decision']['max_abs_prob_diff']:.4f}, "
                         f"mean |dp| {p['decision']['mean_abs_prob_diff']:.4f}; ROC AUC " + _cause_auc(d))
        dyn = m.get("dynamic_range")
        if dyn:
            lines.append(f"- control, int8 weights with float activations (`--mode dynamic`): {dyn['size_bytes']:,} B, "
                         f"top-1 agreement {dyn['parity']['top1_agreement']:.4f} on {dyn['parity']['n']:,} test windows, "
                         f"p50 {dyn['p50_ms']:.2f} ms ({dyn['ratio_to_float32']:.2f}x float32; same interleaved run)")
        sec = m["latency"].get("sections")
        if sec:
            lines += ["", f"Latency by section of ops (`ecgnet_tf.export.profile`: the model cut after each section, "
                      f"p50 of {sec['runs']} interleaved runs, differences of consecutive cuts):", "",
                      "| ops | op types | int8 ms | float32 ms |", "|---|---|---|---|"]
            lines += [f"| {r['ops']} | {', '.join(f'{k} {v}' for k, v in r['op_types'].items())} | {r['int8_ms']:.3f} | "
                      f"{r['float32_ms']:.3f} |" for r in sec["sections"]]
            lines.append("")
        if i8["scale_repairs"]:
            lines.append("- int8 codes repaired (a kernel copied them without rescaling; `ecgnet_tf.export.requant`): "
                         + "; ".join(f"{r['op']} `{r['output'][:50]}` ({r['input_scale']:.4g}, {r['input_zero_point']})"
                                     f" -> ({r['output_scale']:.4g}, {r['output_zero_point']})" for r in i8["scale_repairs"]))
    lines += qat_table(summary["models"])
    if ref:
        lines += ["", f"## Reference pair {ref['shape']['leads']}x{ref['shape']['samples']} (random weights, latency and size only)", "",
                  f"- edge int8{_lstm_note(ref['edge_int8'])} {ref['edge_int8']['size_bytes']:,} B, "
                  f"p50 {ref['latency']['edge_int8_p50_ms']:.2f} ms; "
                  f"paper float32 {ref['paper_float32']['size_bytes']:,} B, p50 {ref['latency']['paper_float32_p50_ms']:.2f} ms; "
                  f"speedup {ref['latency']['speedup']:.2f}x"]
    lines += ["", "Raw JSON of every export and benchmark: `" + summary["work_dir"] + "` (not in git); "
              "this file and `summary.json` are regenerated by the command above.", ""]
    return "\n".join(lines)


def export_report(cfg: ExportReportConfig, log=print) -> dict:
    """Run the stages of ``cfg`` and write ``out_dir/report.md`` and ``out_dir/summary.json``."""
    from .benchmark import _cpu_name

    t0 = time.time()
    models = [run_model(task, Path(run), cfg, log) for task, run in cfg.runs]
    ref = reference_pair(cfg, log) if "reference" in cfg.stages else None
    summary = {"generated": time.strftime("%Y-%m-%d %H:%M"), "host_cpu": _cpu_name(), "work_dir": str(cfg.work_dir),
               "targets": {k: {"threshold": v[0], "kind": v[1], "what": v[2]} for k, v in TARGETS.items()},
               "options": {"qat": cfg.qat, "qat_float": [[t, list(ls)] for t, ls in cfg.qat_float],
                           "float_fallback": cfg.fallback, "fallback_weights": cfg.fallback_weights,
                           "float_lstm": cfg.float_lstm, "speed_layers": list(cfg.speed_layers),
                           "run_speed_layers": [[t, list(ls)] for t, ls in cfg.run_speed_layers],
                           "max_bytes": cfg.max_bytes, "selection": cfg.selection,
                           "bench_runs": cfg.bench_runs},
               "models": models, "reference": ref, "seconds": round(time.time() - t0, 1)}
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "report.md").write_text(markdown(summary))
    return summary


def parse_task_layers(entries: list[str]) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """``--float-for-speed`` / ``--qat-float`` values: "LAYER,..." (every run) or "TASK=LAYER,..." (that run
    only) -> (layers of every run, ((task, layers), ...))."""
    from .fallback import parse_layers

    every = tuple(x for e in entries if "=" not in e for x in parse_layers(e))
    per_run = tuple((e.split("=", 1)[0].strip(), parse_layers(e.split("=", 1)[1])) for e in entries if "=" in e)
    return every, per_run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.report", description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", default=None, metavar="TASK=RUN_DIR",
                   help="reference run (repeatable; default mitdb=runs/beat-study/final-s0, cinc2017=runs/cinc-cv/f0, "
                        "ptbxl-mi=runs/mi-cv/guided-f0)")
    p.add_argument("--out-dir", type=Path, default=Path("docs/results/export"))
    p.add_argument("--work-dir", type=Path, default=Path("runs/export-report"))
    p.add_argument("--float-fallback", default="auto")
    p.add_argument("--fallback-weights", default="int8", choices=("float32", "float16", "int8"),
                   help="storage of the float-fallback layers' weights (see export.quantize; default int8, as the "
                        "published models)")
    p.add_argument("--float-lstm", action=argparse.BooleanOptionalAction, default=True,
                   help="keep every BiLSTM float (see export.quantize; default on, as the published models)")
    p.add_argument("--float-for-speed", action="append", default=[], metavar="[TASK=]LAYER,...",
                   help="layers kept float for latency (see export.quantize; default none): in every run, or with "
                        "TASK= in that run only, e.g. where export.profile measured its int8 attention slower "
                        "(repeatable)")
    p.add_argument("--qat", action="store_true", help="also export every run with --mode qat (same fallback options) "
                   "and compare it with the int8 export")
    p.add_argument("--qat-windows", type=int, default=2048)
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--qat-float", action="append", default=[], metavar="TASK=LAYER,...",
                   help="layers left out of that run's QAT simulation (see export.quantize --qat-float; repeatable)")
    p.add_argument("--max-bytes", type=int, default=1_000_000)
    p.add_argument("--selection", type=int, default=600)
    p.add_argument("--bench-runs", type=int, default=100)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--no-reference", action="store_true", help="skip the 12x3600 edge/paper latency pair")
    p.add_argument("--fresh", action="store_true", help="redo exports and benchmarks whose JSON exists")
    a = p.parse_args(argv)
    speed = parse_task_layers(a.float_for_speed)
    runs = DEFAULT_RUNS if not a.run else tuple(tuple(r.split("=", 1)) for r in a.run)
    stages = ("export", "bench", "report") if a.no_reference else ("export", "bench", "reference", "report")
    cfg = ExportReportConfig(runs=runs, out_dir=a.out_dir, work_dir=a.work_dir, fallback=a.float_fallback,
                             fallback_weights=a.fallback_weights, float_lstm=a.float_lstm, max_bytes=a.max_bytes,
                             speed_layers=speed[0], run_speed_layers=speed[1], qat=a.qat,
                             qat_windows=a.qat_windows, qat_epochs=a.qat_epochs,
                             qat_float=parse_task_layers(a.qat_float)[1],
                             selection=a.selection, bench_runs=a.bench_runs,
                             data_dir=a.data_dir, cache_dir=a.cache_dir, fresh=a.fresh, stages=stages)
    from ..data.errors import DataError

    try:
        summary = export_report(cfg)
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
