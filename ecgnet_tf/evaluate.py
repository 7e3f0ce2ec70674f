"""Evaluate a trained run on its held-out partition (or on other data / records).

    python -m ecgnet_tf.evaluate RUN_DIR [--data-dir D2] [--records 100,103] [--partition test|val]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .data.errors import DataError
from .cli import add_data_dir_argument, run_command
from .settings import resolve_data_dir
from .training.evaluation import evaluate_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet_tf.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    add_data_dir_argument(parser)
    parser.add_argument("--records", default=None, help="comma-separated record ids to evaluate instead")
    parser.add_argument("--partition", default="test", choices=("test", "val"))
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default: the run folder for its own test set; RUN/evaluations/<what> "
                             "for --records, --partition val or another --data-dir, so the run's metrics.json stays)")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    def body() -> None:
        data_dir = resolve_data_dir(args.data_dir) if args.data_dir else None
        m = evaluate_run(args.run_dir, data_dir, args.records.split(",") if args.records else None,
                         args.partition, args.out, args.cache_dir)
        print(json.dumps({k: m[k] for k in ("task", "partition", "n", "accuracy", "macro", "out_dir")}, indent=2))

    return run_command(body, (DataError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
