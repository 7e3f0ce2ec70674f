"""Model complexity report: parameters, FLOPs, float32 size and CPU latency per configuration.

Usage::

    python -m ecgnet_tf.model_report --json docs/results/model_report.json \
        --markdown docs/results/model_report.md [--configs edge,paper] [--runs 30] [--no-tflite]

For every configuration and input (12x3600 and 1x3600 by default) it builds the model (batch 1),
counts parameters (all, incl. BatchNorm statistics), FLOPs (analytic, batch 1, 2 FLOPs per
multiply-accumulate; see :mod:`ecgnet_tf.model.flops`), the float32 size (params x 4 bytes), and
measures Keras float32 latency: ``model(x, training=False)`` inside a ``tf.function``, batch 1,
median of ``--runs`` timed calls after ``--warmup`` untimed ones, on this host with TensorFlow's
default threading. With TFLite enabled (default) it also converts ``edge`` to full-int8 TFLite
(builtin ops only, through :mod:`ecgnet_tf.export.convert`) and times it on 1 thread with the
project's TFLite runner, for the edge latency target.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_CONFIGS = ("baseline", "+multiscale", "+channel_att", "+spatial_att", "+guided", "+separable",
                   "edge", "edge_standard", "paper")
INPUTS = {"12x3600": (12, 3600), "1x3600": (1, 3600)}

EDGE_MAX_PARAMS = 1_000_000
EDGE_MAX_GFLOPS = 0.5
MIN_SEPARABLE_REDUCTION = 0.55
EDGE_MAX_INT8_MS = 10.0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _timed(fn, runs: int) -> tuple[float, float]:
    """Median wall-clock and median process-CPU milliseconds of ``runs`` calls of ``fn``."""
    import numpy as np

    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return float(np.median(wall)), float(np.median(cpu))


def _keras_latency_ms(model, n_leads: int, n_samples: int, runs: int, warmup: int) -> tuple[float, float]:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    ecg = tf.constant(rng.standard_normal((1, n_samples, n_leads)).astype("float32"))
    prior = tf.constant(rng.random((1, n_samples, 1)).astype("float32"))

    @tf.function
    def forward(a, b):
        return model([a, b], training=False)

    for _ in range(max(1, warmup)):
        forward(ecg, prior).numpy()
    return _timed(lambda: forward(ecg, prior).numpy(), runs)


def convert_int8(model, n_leads: int, n_samples: int, n_calibration: int = 8) -> bytes:
    """Full-int8 TFLite conversion (builtin int8 ops only, float I/O) of a batch-1 model through the
    project's converter (:func:`ecgnet_tf.export.convert.convert_model`), seeded synthetic calibration
    (standard-normal ECG, uniform prior): fine for size and latency, meaningless for accuracy."""
    import numpy as np

    from ecgnet_tf.export.convert import convert_model

    rng = np.random.default_rng(0)

    def representative():
        for _ in range(n_calibration):
            yield {"ecg": rng.standard_normal((1, n_samples, n_leads)).astype("float32"),
                   "prior": rng.random((1, n_samples, 1)).astype("float32")}

    return convert_model(model, "int8", representative)


def _tflite_latency(blob: bytes, runs: int, warmup: int) -> tuple[float, float, list[str]]:
    """Median wall and CPU ms per window on :class:`~ecgnet_tf.export.tflite.TFLiteRunner` (1 thread,
    LSTM state reset per window as deployed) and the interpreter's op names."""
    import numpy as np

    from ecgnet_tf.export.tflite import TFLiteRunner

    runner = TFLiteRunner(blob, num_threads=1)
    ops = sorted(runner.op_names())
    rng = np.random.default_rng(0)
    runner.set_inputs({name: rng.random(runner.input_shape(name)).astype("float32") for name in runner.inputs})
    for _ in range(max(1, warmup)):
        runner.invoke()
    wall, cpu = _timed(runner.invoke, runs)
    return wall, cpu, ops


def measure(configs, runs: int, warmup: int, n_classes: int, tflite: bool) -> dict:
    """Build, count and time every config on every input; optionally the edge int8 TFLite model."""
    import tf_keras as keras

    from ecgnet_tf.model import build_model, count_flops, count_params, get_model_config

    results: dict = {}
    cpu_ms: dict = {}
    for name in configs:
        cfg = get_model_config(name)
        results[name] = {}
        cpu_ms[name] = {}
        for key, (leads, samples) in INPUTS.items():
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            t0 = time.perf_counter()
            model = build_model(cfg, samples, leads, n_classes, batch_size=1)
            params = count_params(model)
            flops = count_flops(model)
            latency, cpu = _keras_latency_ms(model, leads, samples, runs, warmup)
            cpu_ms[name][key] = round(cpu, 3)
            results[name][key] = {
                "params": int(params),
                "flops": int(flops),
                "latency_ms": round(latency, 3),
                "float32_bytes": int(params) * 4,
            }
            _log(f"[model_report] {name:>14} {key:>8}: params={params:,} GFLOPs={flops / 1e9:.3f} "
                 f"latency={latency:.2f} ms (CPU {cpu:.2f} ms) ({time.perf_counter() - t0:.1f} s)")
            del model
    tflite_res: dict = {}
    if tflite:
        for key, (leads, samples) in INPUTS.items():
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            model = build_model(get_model_config("edge"), samples, leads, n_classes, batch_size=1)
            t0 = time.perf_counter()
            blob = convert_int8(model, leads, samples)
            latency, cpu, ops = _tflite_latency(blob, runs, warmup)
            tflite_res[key] = {"latency_ms": round(latency, 3), "cpu_ms": round(cpu, 3),
                               "bytes": len(blob), "ops": ops,
                               "flex_ops": [o for o in ops if o.startswith("Flex")]}
            _log(f"[model_report] edge int8 TFLite {key}: {latency:.2f} ms (CPU {cpu:.2f} ms), {len(blob):,} bytes "
                 f"({time.perf_counter() - t0:.1f} s)")
    return {"configs": results, "tflite": tflite_res, "cpu_ms": cpu_ms}


def _check(value, threshold, passed, **extra) -> dict:
    return {"value": value, "threshold": threshold, "pass": bool(passed), **extra}


def targets(configs: dict, tflite: dict) -> dict:
    out: dict = {}
    key = "12x3600"
    if "edge" in configs:
        p = configs["edge"][key]["params"]
        g = configs["edge"][key]["flops"] / 1e9
        out["edge_params_le_1M"] = _check(p, EDGE_MAX_PARAMS, p <= EDGE_MAX_PARAMS)
        out["edge_gflops_le_0.5"] = _check(round(g, 4), EDGE_MAX_GFLOPS, g <= EDGE_MAX_GFLOPS)
    for sep, std, label in (("edge", "edge_standard", "separable_reduction_edge_vs_edge_standard"),
                            ("+separable", "+guided", "separable_reduction_ladder")):
        if sep in configs and std in configs:
            r = 1.0 - configs[sep][key]["params"] / configs[std][key]["params"]
            out[label] = _check(round(r, 4), MIN_SEPARABLE_REDUCTION, r >= MIN_SEPARABLE_REDUCTION,
                                note=f"1 - params({sep}) / params({std}); paper reports 0.58")
    if key in tflite:
        ms = tflite[key]["latency_ms"]
        cpu = tflite[key].get("cpu_ms")
        out["edge_int8_tflite_latency_le_10ms"] = _check(
            ms, EDGE_MAX_INT8_MS, ms <= EDGE_MAX_INT8_MS,
            note="int8 TFLite 12x3600, batch 1, 1 thread, wall-clock median on this (shared) host")
        if cpu is not None:
            out["edge_int8_tflite_cpu_time_le_10ms"] = _check(
                cpu, EDGE_MAX_INT8_MS, cpu <= EDGE_MAX_INT8_MS,
                note="same, median process CPU time: estimate for an idle core, robust to host load")
        out["edge_int8_builtin_ops_only"] = _check(
            tflite[key]["flex_ops"], [], not tflite[key]["flex_ops"],
            note="no Flex (SELECT_TF_OPS) ops in the converted model")
    return out


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _meta(runs: int, warmup: int, n_classes: int, tflite: dict, load_before=None, cpu_ms=None) -> dict:
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    return {
        "generated_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "n_classes": n_classes,
        "batch_size": 1,
        "latency": f"Keras float32, tf.function(model(x, training=False)), batch 1, wall-clock median of "
                   f"{runs} runs after {warmup} warm-up runs, TensorFlow intra-op threads = "
                   f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, inter-op = "
                   f"{tf.config.threading.get_inter_op_parallelism_threads() or 'default'}",
        "cpu_time_ms": cpu_ms or {},
        "cpu_time_note": "median process CPU time per call (time.process_time); with 1 thread it "
                         "estimates the latency on an idle core and is robust to other load on a "
                         "shared host, unlike the wall-clock latency_ms",
        "flops": "analytic per-layer count for one sample; 2 FLOPs per multiply-accumulate plus "
                 "1 per element-wise op (ecgnet_tf.model.flops)",
        "params": "model.count_params(): trainable + BatchNorm moving statistics",
        "float32_bytes": "params * 4",
        "edge_int8_tflite": tflite,
        "loadavg_1_5_15_before": load_before,
        "loadavg_1_5_15_after": _loadavg(),
    }


def _fmt_row(name, res, cpu) -> str:
    cells = [name]
    for key in INPUTS:
        r = res.get(key)
        if r is None:
            cells += ["-"] * 4
        else:
            c = cpu.get(key)
            cells += [f"{r['params'] / 1e6:.3f}", f"{r['flops'] / 1e9:.3f}", f"{r['latency_ms']:.1f}",
                      "-" if c is None else f"{c:.1f}"]
    size = res.get("12x3600", {}).get("float32_bytes")
    cells.append(f"{size / 2**20:.2f}" if size else "-")
    return "| " + " | ".join(cells) + " |"


def markdown(report: dict) -> str:
    from ecgnet_tf.model.config import LADDER

    configs = report["configs"]
    head = ("| Config | Params (M) 12x3600 | GFLOPs 12x3600 | Latency (ms) 12x3600 | CPU (ms) 12x3600 | "
            "Params (M) 1x3600 | GFLOPs 1x3600 | Latency (ms) 1x3600 | CPU (ms) 1x3600 | float32 (MiB) |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    cpu = report["meta"].get("cpu_time_ms", {})
    lines = ["# ecgnet model report", "",
             f"Generated {report['meta']['generated_utc']} with TensorFlow {report['meta']['tensorflow']} "
             f"on {report['meta']['processor']} ({report['meta']['cpu_count']} CPUs).", "",
             "FLOPs: " + report["meta"]["flops"] + ".  ",
             "Latency: " + report["meta"]["latency"] + ".  ",
             "CPU (ms): " + report["meta"]["cpu_time_note"] + ".  ",
             f"Host load average (1/5/15 min) before: {report['meta'].get('loadavg_1_5_15_before')}, "
             f"after: {report['meta'].get('loadavg_1_5_15_after')} (on {report['meta']['cpu_count']} CPUs; "
             "a load above the CPU count inflates latencies).", ""]
    ladder = [n for n in LADDER if n in configs]
    if ladder:
        lines += ["## Table 2: ablation ladder (cumulative)", "", head]
        lines += [_fmt_row(n, configs[n], cpu.get(n, {})) for n in ladder]
        lines.append("")
    others = [n for n in configs if n not in LADDER]
    if others:
        lines += ["## Table 3: deployment configurations", "", head]
        lines += [_fmt_row(n, configs[n], cpu.get(n, {})) for n in others]
        lines.append("")
    tfl = report["meta"].get("edge_int8_tflite") or {}
    if tfl:
        lines += ["## edge, full-int8 TFLite (batch 1, 1 thread)", "",
                  "| Input | Latency (ms) | CPU (ms) | Size (KiB) | Flex ops |", "|---|---:|---:|---:|---|"]
        for key, r in tfl.items():
            lines.append(f"| {key} | {r['latency_ms']:.2f} | {r['cpu_ms']:.2f} | {r['bytes'] / 1024:.0f} | "
                         f"{', '.join(r['flex_ops']) or 'none'} |")
        lines.append("")
    lines += ["## Targets", "", "| Check | Value | Threshold | Result |", "|---|---:|---:|---|"]
    for name, t in report["targets"].items():
        lines.append(f"| {name} | {t['value']} | {t['threshold']} | {'PASS' if t['pass'] else 'FAIL'} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecgnet-model-report", description=__doc__.split("\n")[0])
    parser.add_argument("--json", required=True, help="output JSON path")
    parser.add_argument("--markdown", default=None, help="optional Markdown output path")
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                        help="comma-separated config names (default: all)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per latency (median)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed warm-up runs")
    parser.add_argument("--n-classes", type=int, default=5, help="output classes (default 5)")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow intra- and inter-op threads for Keras latency (0 = TF default)")
    parser.add_argument("--no-tflite", dest="tflite", action="store_false",
                        help="skip the edge int8 TFLite conversion and timing")
    args = parser.parse_args(argv)

    if args.threads > 0:
        import tensorflow as tf

        try:  # only possible before the TF runtime starts (not when called from a test)
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        except RuntimeError as exc:
            _log(f"[model_report] could not set TF threads ({exc}); using the current setting")

    from ecgnet_tf.model.config import get_model_config

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    for n in names:
        get_model_config(n)  # fail fast with the list of valid names
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    load_before = _loadavg()
    measured = measure(names, args.runs, args.warmup, args.n_classes, args.tflite)
    report = {
        "configs": measured["configs"],
        "targets": targets(measured["configs"], measured["tflite"]),
        "meta": _meta(args.runs, args.warmup, args.n_classes, measured["tflite"], load_before,
                      measured["cpu_ms"]),
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    _log(f"[model_report] wrote {out}")
    if args.markdown:
        md = Path(args.markdown)
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(markdown(report))
        _log(f"[model_report] wrote {md}")
    for name, t in report["targets"].items():
        _log(f"[model_report] target {name}: {'PASS' if t['pass'] else 'FAIL'} ({t['value']} vs {t['threshold']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
