"""Choose which layers of an int8 model stay float (float fallback), by measured agreement.

The model is calibrated once (:func:`~ecgnet_tf.export.convert.calibrate`); quantising the calibrated
model is then cheap, so candidate fallbacks are tried, not guessed. Every candidate is quantised
with the converter's denylist (``denylisted_nodes``: those ops run in float32 between DEQUANTIZE /
QUANTIZE ops), repaired (:func:`~ecgnet_tf.export.requant.repair`: int8 scale mismatches), and run on
*selection* windows (the run's validation partition, never the test partition) against the float
Keras model's probabilities.

Ops are grouped by the Keras layer they come from (:func:`layer_groups`: ``model/<layer>/...`` in the
converter's tensor names; ops the converter named ``tfl.*`` join the layer of the op that consumes
them, e.g. a BiLSTM's fused LSTM ops join that BiLSTM). ``auto`` (:func:`choose_fallback`) is a
greedy forward selection: each step keeps float the layer whose fallback raises selection
agreement most (ties: smaller file), within ``max_bytes``, until ``target_agreement`` is met, no
layer helps, or ``max_layers`` are float.

Besides single layers, ``auto`` tries whole *modules* (:func:`module_groups`: every layer of the
paper's attention modules, every convolution, the dense head, each as one candidate named
``[module]``): quantisation error that is spread over several layers of a module can be invisible
one layer at a time.

``weights="float16"`` stores the float layers' weights as float16 behind DEQUANTIZE ops
(:func:`~ecgnet_tf.export.fp16_weights.float16_weights`), ``weights="int8"`` stores the weight
matrices of float LSTMs and fully-connected ops as int8 for LiteRT's hybrid kernels
(:func:`~ecgnet_tf.export.hybrid_weights.int8_weights`), in every candidate, so the size budget and
the agreement are those of the file that is written.
``lstm=True`` keeps every layer with a sequence-LSTM op (the BiLSTMs, :func:`lstm_layers`) float in
every candidate, whatever else is chosen: LiteRT's int8 LSTM kernel is the slowest part of the int8
models, its float and hybrid kernels are several times faster (``export.profile``). ``speed_layers``
(``--float-for-speed``) does the same for named layers whose int8 kernels ``export.profile`` measured
slower than their float32 ones (e.g. the stem convolution on one input channel, the layer norm after
the self-attention): a choice made for latency, never on test windows.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .fp16_weights import float16_weights
from .hybrid_weights import int8_weights
from .requant import repair
from .slim import shorten_tensor_names
from .tflite import TFLiteRunner, make_interpreter

FALLBACK_MODES = ("none", "auto", "layers")
WEIGHT_TYPES = ("float32", "float16", "int8")


@dataclass(frozen=True)
class FallbackConfig:
    """What ``export.quantize --float-fallback`` does.

    ``mode``: "none" (every op int8), "auto" (greedy selection, see the module docstring) or
    "layers" (the Keras layer names in ``layers`` stay float). ``target_agreement``: top-1 agreement
    with the float model on the selection windows (0..1) at which ``auto`` stops. ``max_bytes``: size
    budget of the exported (name-shortened) file, bytes (None: no budget). ``max_layers``: at most
    this many float layers. ``selection_windows``: validation windows the choice is measured on.
    ``shortlist``: after the first step, only the layers that helped most on their own are retried.
    ``weights``: how the float layers' weights are stored: "float32", "float16" (computed in float32), or
    "int8" (the weight matrices of float LSTMs and fully-connected ops; hybrid kernels: float32
    activations, int8 matrix products).
    ``lstm``: the BiLSTM layers stay float in every candidate (in addition to ``layers`` / the greedy
    choice; ``max_layers`` counts the others). ``speed_layers``: Keras layer names that stay float in
    every candidate too, for latency (``max_layers`` does not count them either).
    """

    mode: str = "none"
    layers: tuple[str, ...] = ()
    target_agreement: float = 0.995
    max_bytes: int | None = None
    max_layers: int = 4
    selection_windows: int = 600
    shortlist: int = 8
    weights: str = "float32"
    lstm: bool = False
    speed_layers: tuple[str, ...] = ()

    def __post_init__(self):
        if self.weights not in WEIGHT_TYPES:
            raise ValueError(f"float-fallback weights must be one of {WEIGHT_TYPES}, got {self.weights!r}")

    @property
    def active(self) -> bool:
        """Whether any layer stays float."""
        return self.mode != "none" or self.lstm or bool(self.speed_layers)

    @staticmethod
    def parse(text: str, **kw) -> "FallbackConfig":
        """``--float-fallback`` text: "none", "auto" or "LAYER,LAYER,...". """
        text = (text or "none").strip()
        if text in ("none", "auto"):
            return FallbackConfig(mode=text, **kw)
        layers = parse_layers(text)
        if not layers:
            raise ValueError("--float-fallback takes none, auto or a comma-separated list of layer names")
        return FallbackConfig(mode="layers", layers=layers, **kw)


def parse_layers(text: str | None) -> tuple[str, ...]:
    """Comma-separated Keras layer names ("" or None: none)."""
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


@dataclass
class Candidate:
    """One tried fallback: its float layers, model bytes and agreement on the selection windows."""

    layers: tuple[str, ...]
    model: bytes = field(repr=False)
    size_bytes: int
    agreement: float
    mean_abs_prob_diff: float
    repaired: list[dict] = field(default_factory=list, repr=False)
    stored: list[dict] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        return {"float_layers": list(self.layers), "size_bytes": self.size_bytes,
                "selection_agreement": self.agreement, "selection_mean_abs_prob_diff": self.mean_abs_prob_diff}

    def stored_summary(self) -> dict:
        """The float layers' weights stored in fewer bytes: tensor count, bytes before / after, ops reading
        them, largest rounding error over a tensor's largest magnitude."""
        return {"tensors": len(self.stored), "float32_bytes": sum(r["float32_bytes"] for r in self.stored),
                "stored_bytes": sum(r["stored_bytes"] for r in self.stored),
                "readers": sorted({k for r in self.stored for k in r["readers"]}),
                "max_relative_error": max((r["max_relative_error"] for r in self.stored), default=0.0)}


# ---------------------------------------------------------------------------------------------- groups
#: modules tried whole by ``auto``: name -> Keras layer classes (the model's own layers and Keras ones)
MODULES: dict[str, tuple[str, ...]] = {
    "attention": ("SqueezeExcitation", "SpatialAttention", "GuidedAttention", "PositionalEncoding",
                  "LayerNormalization"),
    "convolutions": ("Conv1D", "SeparableConv1D"),
    "head": ("Dense",),
}


def module_layers(model, modules: dict[str, tuple[str, ...]] | None = None) -> dict[str, tuple[str, ...]]:
    """Module name -> names of the Keras ``model``'s layers of its classes (:data:`MODULES`); modules
    the model lacks are left out."""
    out = {}
    for name, classes in (modules or MODULES).items():
        layers = tuple(layer.name for layer in model.layers if type(layer).__name__ in classes)
        if layers:
            out[name] = layers
    return out


def module_groups(groups: dict[str, list[str]], modules: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """``groups`` (:func:`layer_groups`) plus one group ``[module]`` per module of ``modules`` (module
    -> Keras layer names, :func:`module_layers`) holding the ops of its layers that the graph has."""
    out = dict(groups)
    for name, layers in modules.items():
        nodes = [n for layer in layers for n in groups.get(layer, [])]
        if nodes:
            out[f"[{name}]"] = nodes
    return out


def _layer_name(tensor_name: str) -> str | None:
    """The Keras layer of a converter tensor name ("model/mhsa/einsum/Einsum3;..." -> "mhsa"), else None."""
    first = tensor_name.split(";")[0]
    parts = first.split("/")
    if len(parts) >= 3 and not first.startswith("tfl."):
        return parts[1]
    return None


def _sublayer_name(tensor_name: str) -> str | None:
    """"model/mhsa/einsum/Einsum3;..." -> "mhsa/einsum" (None without a sub-scope)."""
    parts = tensor_name.split(";")[0].split("/")
    return f"{parts[1]}/{parts[2]}" if len(parts) >= 4 and not parts[0].startswith("tfl.") else None


def layer_groups(calibrated: bytes) -> dict[str, list[str]]:
    """Keras layer name -> the output tensor names of its ops (the converter's denylist keys), in
    graph order. ``tfl.*`` ops join the layer of their first consumer that has one. A layer whose ops
    come from several sub-layers (multi-head attention: "mhsa/query", "mhsa/einsum", "mhsa/softmax",
    ...) also gives one group per sub-layer, so a weightless part can stay float alone."""
    interp = make_interpreter(calibrated, xnnpack=False)
    names = {d["index"]: d["name"] for d in interp.get_tensor_details()}
    ops = interp._get_ops_details()  # noqa: SLF001 - LiteRT's only view of the graph
    consumers: dict[int, list[int]] = {}
    for k, op in enumerate(ops):
        for i in op["inputs"]:
            consumers.setdefault(int(i), []).append(k)
    layer_of: dict[int, str | None] = {}

    def resolve(k: int, depth: int = 0) -> str | None:
        if k in layer_of:
            return layer_of[k]
        outs = [int(i) for i in ops[k]["outputs"] if int(i) in names]
        layer = next((_layer_name(names[i]) for i in outs if _layer_name(names[i])), None)
        if layer is None and depth < 32:
            for i in outs:
                for c in consumers.get(i, []):
                    layer = resolve(c, depth + 1)
                    if layer:
                        break
                if layer:
                    break
        layer_of[k] = layer
        return layer

    groups: dict[str, list[str]] = {}
    subs: dict[str, dict[str, list[str]]] = {}
    for k, op in enumerate(ops):
        layer = resolve(k)
        if layer is None:
            continue
        outs = [names[int(i)] for i in op["outputs"] if int(i) in names]
        groups.setdefault(layer, []).extend(outs)
        sub = _sublayer_name(outs[0]) if outs else None
        if sub and sub.startswith(layer + "/"):
            subs.setdefault(layer, {}).setdefault(sub, []).extend(outs)
    for layer, parts in subs.items():  # a layer made of sub-layers (attention: query, key, einsum, softmax, ...)
        if len(parts) > 1:
            groups.update(parts)
    return groups


def lstm_layers(calibrated: bytes, groups: dict[str, list[str]]) -> tuple[str, ...]:
    """The Keras layers of ``groups`` (:func:`layer_groups`) that hold a sequence-LSTM op (the BiLSTMs)."""
    interp = make_interpreter(calibrated, xnnpack=False)
    names = {d["index"]: d["name"] for d in interp.get_tensor_details()}
    outs = {names[int(i)] for op in interp._get_ops_details()  # noqa: SLF001 - LiteRT's only view of the graph
            if "SEQUENCE_LSTM" in op["op_name"] for i in op["outputs"] if int(i) in names}
    return tuple(sorted((k for k, v in groups.items() if "/" not in k and outs & set(v)), key=_natural))


def _natural(layer: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", layer)]


# ---------------------------------------------------------------------------------------------- trying
def try_fallback(calibrated: bytes, groups: dict[str, list[str]], layers: tuple[str, ...],
                 feed: dict[str, np.ndarray], p_float: np.ndarray, quantize: Callable[..., bytes],
                 weights: str = "float32") -> Candidate:
    """Quantise ``calibrated`` with ``layers`` float, repair scale mismatches, store the float weights
    as ``weights`` (:data:`WEIGHT_TYPES`), measure on ``feed``.

    ``model`` keeps the converter's tensor names; ``size_bytes`` is that of the name-shortened file."""
    unknown = [name for name in layers if name not in groups]
    if unknown:
        raise ValueError(f"unknown layer(s) {unknown} for --float-fallback; the model's layers: "
                         f"{', '.join(sorted(groups, key=_natural))}")
    nodes = [n for name in layers for n in groups[name]]
    blob, rows = repair(quantize(calibrated, nodes))
    stored: list[dict] = []
    if weights != "float32" and layers:
        blob, stored = (float16_weights if weights == "float16" else int8_weights)(blob)
    size = len(shorten_tensor_names(blob))  # the exported file's size (same results, short names)
    p = TFLiteRunner(blob, xnnpack=False).predict_feed(feed)
    return Candidate(tuple(layers), blob, size, float(np.mean(p.argmax(1) == np.asarray(p_float).argmax(1))),
                     float(np.mean(np.abs(p - p_float))), rows, stored)


def _better(a: Candidate, b: Candidate | None) -> bool:
    if b is None:
        return True
    return (a.agreement, -a.mean_abs_prob_diff, -a.size_bytes) > (b.agreement, -b.mean_abs_prob_diff, -b.size_bytes)


def choose_fallback(calibrated: bytes, feed: dict[str, np.ndarray], p_float: np.ndarray, cfg: FallbackConfig,
                    quantize: Callable[..., bytes], log=print,
                    modules: dict[str, tuple[str, ...]] | None = None) -> tuple[Candidate, dict]:
    """The fallback ``cfg`` asks for (see the module docstring); returns (chosen candidate, report).
    ``modules``: module name -> Keras layer names (:func:`module_layers`), tried whole by ``auto``."""
    t0 = time.time()
    groups = layer_groups(calibrated)
    lstm = lstm_layers(calibrated, groups) if cfg.lstm else ()
    start = lstm + tuple(k for k in cfg.speed_layers if k not in lstm)
    if modules and cfg.mode == "auto":
        groups = module_groups(groups, modules)
    base = try_fallback(calibrated, groups, (), feed, p_float, quantize, cfg.weights)
    report: dict = {"mode": cfg.mode, "weights": cfg.weights,
                    "lstm_layers": list(lstm),
                    "speed_layers": list(cfg.speed_layers),
                    "selection": {"partition": "val", "n": int(len(p_float))},
                    "target_agreement": cfg.target_agreement, "max_bytes": cfg.max_bytes,
                    "layers_available": sorted(groups, key=_natural), "all_int8": base.summary(), "steps": []}
    if cfg.mode == "none" and not start:
        chosen = base
    elif cfg.mode in ("none", "layers"):
        layers = start + tuple(k for k in cfg.layers if k not in start)
        chosen = try_fallback(calibrated, groups, layers, feed, p_float, quantize, cfg.weights)
    else:
        chosen = try_fallback(calibrated, groups, start, feed, p_float, quantize, cfg.weights) if start else base
        if start:
            report["start"] = chosen.summary()
        single: dict[str, Candidate] = {}
        pool = [k for k in groups if k not in start and not any(k.startswith(s + "/") for s in start)]
        while chosen.agreement < cfg.target_agreement and len(chosen.layers) < cfg.max_layers + len(start):
            best = None
            for layer in pool:
                if layer in chosen.layers:
                    continue
                cand = try_fallback(calibrated, groups, chosen.layers + (layer,), feed, p_float, quantize,
                                    cfg.weights)
                if len(chosen.layers) == len(start):
                    single[layer] = cand
                if cfg.max_bytes is not None and cand.size_bytes > cfg.max_bytes:
                    continue
                if _better(cand, best):
                    best = cand
            if len(chosen.layers) == len(start):  # later steps retry only the layers that helped most alone
                pool = sorted(single, key=lambda k: (-single[k].agreement, single[k].mean_abs_prob_diff))[:cfg.shortlist]
                report["single_layer"] = {k: v.summary() for k, v in sorted(
                    single.items(), key=lambda kv: (-kv[1].agreement, kv[1].mean_abs_prob_diff))}
            if best is None or not _better(best, chosen) or best.agreement <= chosen.agreement:
                break
            chosen = best
            report["steps"].append(chosen.summary())
            log(f"float fallback: {', '.join(chosen.layers)} -> selection agreement {chosen.agreement:.4f}, "
                f"{chosen.size_bytes:,} bytes")
    report.update({"float_layers": list(chosen.layers),
                   "float_nodes": [n for name in chosen.layers for n in groups[name]],
                   "chosen": chosen.summary(), "stored_weights": chosen.stored_summary(),
                   "size_cost_bytes": chosen.size_bytes - base.size_bytes,
                   "target_met_on_selection": chosen.agreement >= cfg.target_agreement,
                   "repaired_scale_mismatches": [{k: r[k] for k in ("op", "input", "output", "input_scale",
                                                                    "input_zero_point", "output_scale",
                                                                    "output_zero_point", "relative_value_error")}
                                                 for r in chosen.repaired],
                   "seconds": round(time.time() - t0, 1)})
    return chosen, report
