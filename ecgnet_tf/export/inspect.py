"""Diagnose a TFLite model: what its bytes are, which kernels run in which precision, where int8 loses accuracy.

    python -m export.inspect M.tflite [--float F.tflite --run RUN [--windows 64]] [--json OUT.json]

The JSON has ``float_bytes`` / ``int8_bytes`` (constant data by type), ``tensors`` (every constant
tensor: name, dtype, bytes, shape), ``ops`` (operator report), ``scale_mismatches`` and
``layer_error`` (None without ``--float``).

* **Size breakdown** (:func:`tensor_breakdown`): every constant tensor of the flatbuffer by type
  (int8 weights, int32 biases, float32 / float16 constants), the largest float constants by name
  (what could be int8 or computed at run time), and the bytes that are not tensor data (graph,
  metadata).
* **Operators** (:func:`op_report`): the op histogram, which ops compute in float inside an int8
  model (their first input is float32: float islands, each needing QUANTIZE / DEQUANTIZE around
  it), and how many partitions the XNNPACK delegate takes (``DELEGATE`` nodes; ops outside them run
  on LiteRT's reference / optimised builtin kernels).
* **Per-layer int8 error** (:func:`layer_errors`, with ``--float`` and ``--run``): the int8 model and
  the float32 export of the same run run on the run's calibration (training) windows with every
  intermediate tensor kept; tensors present in both (same name and shape) are compared after
  dequantisation: relative RMS error = RMS(int8 - float) / RMS(float). The worst tensors show
  which layers need per-channel scales, float16 or a float fallback. Export the int8 model with
  ``--keep-names`` for this: the default export shortens internal names, leaving only the inputs and
  outputs to match.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from .tflite import check_flatbuffer, make_interpreter, op_histogram, read_tflite

_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8",
               10: "float64"}


def tensor_breakdown(model: bytes, top: int = 10) -> dict:
    """Bytes of the model's constant tensors by type, the largest float constants, and the rest."""
    from ai_edge_litert import schema_py_generated as schema

    check_flatbuffer(model)
    m = schema.Model.GetRootAs(model, 0)
    by_type: Counter[str] = Counter()
    count: Counter[str] = Counter()
    floats = []
    seen_buffers: set[int] = set()
    tensors = []
    for s in range(m.SubgraphsLength()):
        sub = m.Subgraphs(s)
        for t in range(sub.TensorsLength()):
            ten = sub.Tensors(t)
            b = ten.Buffer()
            if b in seen_buffers or b >= m.BuffersLength():
                continue
            buf = m.Buffers(b)
            size = buf.DataLength() or int(buf.Size())
            if size <= 0:
                continue
            seen_buffers.add(b)
            kind = _TYPE_NAMES.get(ten.Type(), f"type{ten.Type()}")
            by_type[kind] += size
            count[kind] += 1
            row = {"name": ten.Name().decode(errors="replace"), "dtype": kind, "bytes": size,
                   "shape": [int(v) for v in ten.ShapeAsNumpy()] if ten.ShapeLength() else []}
            tensors.append(row)
            if kind in ("float32", "float16"):
                floats.append(row)
    data = sum(by_type.values())
    floats.sort(key=lambda f: -f["bytes"])
    tensors.sort(key=lambda f: -f["bytes"])
    return {"file_bytes": len(model), "constant_bytes": dict(by_type), "constant_tensors": dict(count),
            "other_bytes": len(model) - data, "largest_float_constants": floats[:top],
            "float_constant_bytes": by_type.get("float32", 0) + by_type.get("float16", 0),
            "int8_constant_bytes": by_type.get("int8", 0), "tensors": tensors}


def op_report(model: bytes) -> dict:
    """Op histogram, the ops computing in float (first input float32) and the XNNPACK partitions."""
    ops = op_histogram(model)
    interp = make_interpreter(model, xnnpack=False)
    tensors = {d["index"]: d for d in interp.get_tensor_details()}
    float_ops: Counter[str] = Counter()
    int8_ops: Counter[str] = Counter()
    for op in interp._get_ops_details():  # noqa: SLF001 - LiteRT's only view of the graph
        ins = [int(i) for i in op["inputs"] if int(i) >= 0 and int(i) in tensors]
        dtype = np.dtype(tensors[ins[0]]["dtype"]) if ins else None
        if dtype == np.float32:
            float_ops[op["op_name"]] += 1
        elif dtype in (np.int8, np.uint8, np.int16):
            int8_ops[op["op_name"]] += 1
    delegated = make_interpreter(model, xnnpack=True)
    partitions = sum(1 for op in delegated._get_ops_details() if op["op_name"] == "DELEGATE")  # noqa: SLF001
    n_ops = sum(ops.values())
    return {"ops": ops, "n_ops": n_ops, "float_input_ops": dict(float_ops.most_common()),
            "integer_input_ops": dict(int8_ops.most_common()), "n_float_input_ops": sum(float_ops.values()),
            "xnnpack_partitions": partitions,
            "quantize_dequantize_ops": ops.get("QUANTIZE", 0) + ops.get("DEQUANTIZE", 0)}


def _producers(model: bytes) -> dict[str, list[str]]:
    """Tensor name -> the names of the inputs of the op that writes it (non-constant inputs only)."""
    interp = make_interpreter(model, xnnpack=False)
    details = {d["index"]: d for d in interp.get_tensor_details()}
    outputs = set()
    ops = interp._get_ops_details()  # noqa: SLF001 - LiteRT's only view of the graph
    for op in ops:
        outputs |= {int(i) for i in op["outputs"]}
    inputs = {d["index"] for d in interp.get_input_details()}
    out: dict[str, list[str]] = {}
    for op in ops:
        ins = [details[int(i)]["name"] for i in op["inputs"] if int(i) in details and (int(i) in outputs or int(i) in inputs)]
        for o in op["outputs"]:
            if int(o) in details:
                out[details[int(o)]["name"]] = ins
    return out


def _intermediates(model: bytes, feeds: list[dict[str, np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """Every tensor (dequantised to float) after each window, keyed by name; reference kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=bytes(model), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    from .tflite import _named_inputs, quantize_input

    inputs = _named_inputs(interp)
    counts = Counter(d["name"] for d in interp.get_tensor_details())
    details = [d for d in interp.get_tensor_details() if counts[d["name"]] == 1]  # ambiguous names are skipped
    out: dict[str, list[np.ndarray]] = {}
    for feed in feeds:
        interp.reset_all_variables()  # LSTM state: every window starts from zero, as in the runner
        for name, d in inputs.items():
            x = np.asarray(feed[name], np.float32).reshape(d["shape"])
            interp.set_tensor(d["index"], quantize_input(d, x))
        interp.invoke()
        for d in details:
            try:
                v = interp.get_tensor(d["index"])
            except ValueError:
                continue
            q = d.get("quantization_parameters") or {}
            scales = np.asarray(q.get("scales", []))
            if v.dtype in (np.int8, np.uint8, np.int16) and scales.size == 1:
                v = (v.astype(np.float32) - float(np.asarray(q["zero_points"])[0])) * float(scales[0])
            elif v.dtype not in (np.float32, np.float16):
                continue
            out.setdefault(d["name"], []).append(np.asarray(v, np.float32).copy())
    return out


def layer_errors(int8_model: bytes, float_model: bytes, feeds: list[dict[str, np.ndarray]], top: int = 15,
                 flag_added: float = 0.25) -> dict:
    """Relative RMS error of the int8 model's tensors against the float model's tensors of the same
    name and shape, over ``feeds`` (named model inputs, one window each). Worst first.

    ``added_error`` of a tensor: its error minus the largest error of the tensors its op reads (what
    that op itself adds; an error inherited from upstream adds nothing). ``flagged``: the tensors
    whose op adds more than ``flag_added`` (relative RMS), in graph order: the layers to keep float or
    repair, where the error starts rather than everywhere it propagates to.
    """
    a, b = _intermediates(int8_model, feeds), _intermediates(float_model, feeds)
    producers = _producers(int8_model)
    rows = []
    for name, vals in a.items():
        ref = b.get(name)
        if ref is None or len(ref) != len(vals) or ref[0].shape != vals[0].shape:
            continue
        x, y = np.stack(vals).astype(np.float64), np.stack(ref).astype(np.float64)
        rms = float(np.sqrt(np.mean(y ** 2)))
        if rms == 0:
            continue
        rows.append({"tensor": name, "shape": list(vals[0].shape),
                     "relative_rms_error": float(np.sqrt(np.mean((x - y) ** 2)) / rms)})
    err = {r["tensor"]: r["relative_rms_error"] for r in rows}
    order = {name: k for k, name in enumerate(producers)}

    def upstream(name: str, depth: int = 0) -> float:
        """Largest error among the compared tensors the op reads (through uncompared ones)."""
        worst = 0.0
        for i in producers.get(name, []):
            if i in err:
                worst = max(worst, err[i])
            elif depth < 8:
                worst = max(worst, upstream(i, depth + 1))
        return worst

    for r in rows:
        r["input_error"] = upstream(r["tensor"])
        r["added_error"] = r["relative_rms_error"] - r["input_error"]
    flagged = sorted((r for r in rows if r["added_error"] > flag_added), key=lambda r: order.get(r["tensor"], 1 << 30))
    rows.sort(key=lambda r: -r["relative_rms_error"])
    return {"n_compared": len(rows), "n_windows": len(feeds), "worst": rows[:top],
            "flag_added_error": flag_added, "flagged": flagged,
            "median_relative_rms_error": float(np.median([r["relative_rms_error"] for r in rows])) if rows else None}


def calibration_feeds(run_dir: Path, n: int, seed: int = 0, data_dir: Path | None = None,
                      cache_dir: Path | None = None) -> list[dict[str, np.ndarray]]:
    """``n`` of the run's training windows as single-window named feeds (prepared by the run's spec)."""
    from ..runs import ModelSpec, RunConfig
    from .convert import training_windows
    from .quantize import run_records

    from ..settings import resolve_data_dir

    spec = ModelSpec.from_run(run_dir)
    # a pretrained model's run.json names no data folder: the setting ($ECGNET_DATA, ./data) then
    dd = Path(data_dir or RunConfig.load(run_dir).data_dir or resolve_data_dir(None))
    records = run_records(run_dir, dd)
    calib = training_windows(spec, records, dd, n, seed, cache_dir)
    return [{k: v[i:i + 1] for k, v in calib.inputs.items()} for i in range(len(calib))]


def inspect_model(path: Path, float_path: Path | None = None, run_dir: Path | None = None, windows: int = 32,
                  data_dir: Path | None = None, cache_dir: Path | None = None) -> dict:
    """The full diagnosis of ``path`` (see the module docstring)."""
    from .requant import scale_mismatches

    model = read_tflite(path)
    size = tensor_breakdown(model)
    ops = op_report(model)
    rep = {"model": str(path), "float_bytes": size["float_constant_bytes"], "int8_bytes": size["int8_constant_bytes"],
           "tensors": size["tensors"], "ops": ops, "scale_mismatches": scale_mismatches(model), "layer_error": None,
           "size": {k: v for k, v in size.items() if k != "tensors"}, "operators": ops}
    if float_path is not None:
        if run_dir is None:
            raise ValueError("--float needs --run (the windows to compare the two models on)")
        feeds = calibration_feeds(Path(run_dir), windows, data_dir=data_dir, cache_dir=cache_dir)
        rep["layer_error"] = layer_errors(model, read_tflite(float_path), feeds)
        rep["layer_error"]["float_model"] = str(float_path)
    return rep


def markdown(rep: dict) -> str:
    s, o = rep["size"], rep["operators"]
    lines = [f"# {Path(rep['model']).name}", "",
             f"File: {s['file_bytes']:,} bytes; constants by type: "
             + ", ".join(f"{k} {v:,} B ({s['constant_tensors'][k]} tensors)" for k, v in s["constant_bytes"].items())
             + f"; not tensor data (graph, metadata): {s['other_bytes']:,} B.", "",
             "Largest float constants:", ""]
    lines += [f"- `{f['name'][:90]}` {f['dtype']} {f['shape']}: {f['bytes']:,} B" for f in s["largest_float_constants"]]
    if not s["largest_float_constants"]:
        lines.append("- none: every constant is an integer tensor")
    lines += ["", f"Operators: {o['n_ops']} ({', '.join(f'{k} {v}' for k, v in o['ops'].items())}).",
              f"Ops computing in float (first input float32): {o['n_float_input_ops']} "
              f"({', '.join(f'{k} {v}' for k, v in o['float_input_ops'].items()) or 'none'}); "
              f"QUANTIZE/DEQUANTIZE ops: {o['quantize_dequantize_ops']}; XNNPACK partitions: {o['xnnpack_partitions']}."]
    mm = rep.get("scale_mismatches") or []
    if mm:
        lines += ["", "int8 codes a kernel copies without rescaling, read in other units downstream "
                  "(repaired by export.quantize, see ecgnet_tf.export.requant):", "",
                  "| op | output tensor | input (scale, zero point) | output (scale, zero point) | max error / output range |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['op']} | `{r['output'][:60]}` | ({r['input_scale']:.6g}, {r['input_zero_point']}) | "
                  f"({r['output_scale']:.6g}, {r['output_zero_point']}) | {r['relative_value_error']:.3f} |" for r in mm]
    le = rep.get("layer_error")
    if le:
        lines += ["", f"Per-tensor int8 error against `{Path(le['float_model']).name}` over {le['n_windows']} calibration "
                  f"windows ({le['n_compared']} tensors matched by name; median relative RMS error "
                  f"{le['median_relative_rms_error']:.4f}):", "", "| tensor | shape | relative RMS error |", "|---|---|---|"]
        lines += [f"| `{r['tensor'][:80]}` | {r['shape']} | {r['relative_rms_error']:.4f} |" for r in le["worst"]]
        lines += ["", f"Where the error starts (ops adding more than {le['flag_added_error']} relative RMS error to "
                  "what they read, in graph order):", "", "| tensor | error of its inputs | error added |", "|---|---|---|"]
        lines += [f"| `{r['tensor'][:80]}` | {r['input_error']:.4f} | {r['added_error']:.4f} |" for r in le["flagged"]]
        if not le["flagged"]:
            lines.append("| none | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.inspect", description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="the .tflite to diagnose")
    p.add_argument("--float", dest="float_model", type=Path, default=None,
                   help="float32 .tflite of the same run for the per-tensor int8 error (export both models with "
                        "python -m export.quantize RUN --keep-names, so internal tensors can be matched by name)")
    p.add_argument("--run", default=None,
                   help="the run folder or a pretrained name (its training windows feed the comparison)")
    p.add_argument("--windows", type=int, default=32, help="calibration windows for the per-tensor error")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    p.add_argument("--markdown", type=Path, default=None, help="also write the printed report to this file")
    a = p.parse_args(argv)
    from ..data.errors import DataError

    try:
        from ..pretrained.registry import resolve_model

        rep = inspect_model(a.model, a.float_model, resolve_model(a.run), a.windows, a.data_dir, a.cache_dir)
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(rep, indent=2))
    if a.markdown:
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text(markdown(rep))
    print(markdown(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
