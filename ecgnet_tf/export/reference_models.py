"""Untrained ecgnet models at any input shape, converted to TFLite, for LATENCY comparisons only.

    python -m export.reference_models --config paper --samples 3600 --leads 12 --mode float32 --out P.tflite

Latency of a TFLite model does not depend on the weight values, so a seeded random initialisation
stands in for training. int8 calibration uses seeded synthetic inputs (standard-normal ECG, uniform
prior): fine for timing, meaningless for accuracy. The JSON next to the model says so.

``--lstm-weights int8|float16`` (int8 mode): the BiLSTMs stay float, their weights stored as int8 for
LiteRT's hybrid kernels or as float16 (as ``export.quantize --float-lstm --fallback-weights ...``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .convert import MODES, Calibration, calibrate_model, convert_model, quantize_calibrated, representative_dataset
from .requant import repair
from .slim import shorten_tensor_names
from .tflite import assert_builtin_only, flex_ops, op_histogram


def build_reference(config: str, samples: int, leads: int, n_classes: int, seed: int = 0):
    import tf_keras as keras

    from ecgnet_tf.model import build_model, get_model_config

    keras.utils.set_random_seed(seed)
    return build_model(get_model_config(config), samples, leads, n_classes, batch_size=1)


def synthetic_calibration(samples: int, leads: int, n: int = 16, seed: int = 0) -> Calibration:
    rng = np.random.default_rng(seed)
    return Calibration(rng.standard_normal((n, samples, leads)).astype(np.float32),
                       rng.random((n, samples, 1)).astype(np.float32), np.zeros(n, np.int64),
                       np.array(["synthetic"] * n, dtype=object))


def _int8_float_lstm(model, rep, weights: str) -> tuple[bytes, list[str]]:
    """int8 bytes of ``model`` with its BiLSTMs float, their weights stored as ``weights``; (bytes, BiLSTM layers)."""
    from .fallback import layer_groups, lstm_layers
    from .fp16_weights import float16_weights
    from .hybrid_weights import int8_weights

    calibrated = calibrate_model(model, rep)
    groups = layer_groups(calibrated)
    layers = lstm_layers(calibrated, groups)
    blob = repair(quantize_calibrated(calibrated, [n for k in layers for n in groups[k]]))[0]
    if weights != "float32":
        blob = (float16_weights if weights == "float16" else int8_weights)(blob)[0]
    return blob, list(layers)


def export_reference(config: str, samples: int, leads: int, mode: str, out: Path, n_classes: int = 5,
                     seed: int = 0, lstm_weights: str | None = None) -> dict:
    """Export the untrained ``config`` model at (``samples``, ``leads``) to ``out`` (+ JSON); ``lstm_weights``
    (int8 mode): keep the BiLSTMs float with weights stored as "int8" (hybrid), "float16" or "float32"."""
    if mode == "qat":
        raise ValueError("qat needs training data; use export.quantize on a run")
    if lstm_weights is not None and mode != "int8":
        raise ValueError("--lstm-weights needs --mode int8")
    model = build_reference(config, samples, leads, n_classes, seed)
    rep = representative_dataset(synthetic_calibration(samples, leads, seed=seed)) if mode == "int8" else None
    float_lstm: list[str] = []
    if lstm_weights is not None:
        blob, float_lstm = _int8_float_lstm(model, rep, lstm_weights)
    else:
        blob = convert_model(model, mode, rep)
    if mode == "int8":
        blob = repair(blob)[0]  # as export.quantize: int8 codes in the units their kernels read
    blob = shorten_tensor_names(blob)  # as export.quantize: the exported file's size
    ops = op_histogram(blob)
    assert_builtin_only(ops)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)
    info = {"config": config, "mode": mode, "input": {"samples": samples, "leads": leads}, "n_classes": n_classes,
            "params": int(model.count_params()), "size_bytes": len(blob), "ops": ops,
            "flex_ops": sum(ops[n] for n in flex_ops(ops)),
            "weights": f"random (keras seed {seed}); for latency only, not accuracy",
            "calibration": "synthetic inputs (int8 only)" if mode == "int8" else None,
            "float_lstm": {"layers": float_lstm, "weights": lstm_weights} if lstm_weights is not None else None}
    out.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.reference_models", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="edge")
    p.add_argument("--samples", type=int, default=3600)
    p.add_argument("--leads", type=int, default=12)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--mode", default="float32", choices=[m for m in MODES if m != "qat"])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lstm-weights", default=None, choices=("float32", "float16", "int8"),
                   help="int8 mode: keep the BiLSTMs float, weights stored as this type (int8: hybrid kernels)")
    a = p.parse_args(argv)
    try:
        info = export_reference(a.config, a.samples, a.leads, a.mode, a.out, a.classes, a.seed, a.lstm_weights)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: info[k] for k in ("config", "mode", "params", "size_bytes", "flex_ops")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
