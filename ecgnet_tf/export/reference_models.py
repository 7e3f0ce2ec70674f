"""Untrained ecgnet models at any input shape, converted to TFLite, for LATENCY comparisons only.

    python -m export.reference_models --config paper --samples 3600 --leads 12 --mode float32 --out P.tflite

Latency of a TFLite model does not depend on the weight values, so a seeded random initialisation
stands in for training. int8 calibration uses seeded synthetic inputs (standard-normal ECG, uniform
prior): fine for timing, meaningless for accuracy. The JSON next to the model says so.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .convert import MODES, Calibration, convert_model, representative_dataset
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


def export_reference(config: str, samples: int, leads: int, mode: str, out: Path, n_classes: int = 5,
                     seed: int = 0) -> dict:
    if mode == "qat":
        raise ValueError("qat needs training data; use export.quantize on a run")
    model = build_reference(config, samples, leads, n_classes, seed)
    rep = representative_dataset(synthetic_calibration(samples, leads, seed=seed)) if mode == "int8" else None
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
            "calibration": "synthetic inputs (int8 only)" if mode == "int8" else None}
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
    a = p.parse_args(argv)
    try:
        info = export_reference(a.config, a.samples, a.leads, a.mode, a.out, a.classes, a.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: info[k] for k in ("config", "mode", "params", "size_bytes", "flex_ops")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
