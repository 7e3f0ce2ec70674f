"""Explain a trained ecgnet model: Grad-CAM / attention figures and zone / lead attribution.

    python -m ecgnet_tf.explain RUN_DIR --record REF [--task T] [--data-dir D] [--class C]
                                [--method gradcam|gradcam++|scorecam] [--layer NAME] --out DIR
    python -m ecgnet_tf.explain RUN_DIR --partition test [--max-windows N] --out DIR
    python -m ecgnet_tf.explain M.tflite --record REF [--run RUN_DIR] --out DIR   (attention maps only)
    python -m ecgnet_tf.explain RUN_DIR --export-tflite M.tflite [--int8]        (attention TFLite model)

REF is a record id of the task under the data dir (e.g. 100, 00001_lr, A00012) or a WFDB record
path. Writes PNG figures, DIR/attribution.json and DIR/attribution.md (definitions in
:mod:`ecgnet_tf.interpret.report`). A thin shell over :func:`ecgnet_tf.interpret.explainer.explain`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .cli import add_data_dir_argument, run_command
from .interpret.explainer import DEFAULT_MAX_WINDOWS, ExplainRequest, explain


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.explain", description=__doc__.splitlines()[0])
    p.add_argument("model", help="run folder (with model.keras), an attention .tflite model, or a pretrained "
                                 "model's name (beats, rhythm, mi; figures in ./<name>_explain unless --out)")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> None:
        from .pretrained.registry import is_pretrained_folder, resolve_model
        from .settings import resolve_data_dir

        args.model = resolve_model(args.model)
        if is_pretrained_folder(args.model):  # never write into the package; its run.json names no data
            args.out = args.out or Path(f"{args.model.name}_explain")
            args.data_dir = str(resolve_data_dir(args.data_dir))
        req = ExplainRequest(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ExplainRequest)})
        summary = explain(req)
        if summary:
            print(json.dumps({k: summary[k] for k in ("task", "scope", "method", "n_windows", "regions", "overlap")},
                             indent=2))

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
