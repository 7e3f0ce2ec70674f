"""Evaluate a trained run on its held-out partition (or on other data / records).

    python -m ecgnet_tf.evaluate RUN_DIR [--data-dir D2] [--records 100,103] [--partition test|val]
    python -m ecgnet_tf.evaluate RUN_DIR --data-dir D --records-file F --out O   # your own labelled records
    python -m ecgnet_tf.evaluate RUN_DIR --ds2 published22        # MIT-BIH DS2 as published (22 records)
    python -m ecgnet_tf.evaluate RUN_DIR --end-to-end --out O     # detected R peaks + EC57 bxb scoring

A beat run's own test set is the strict DS2 (21 records: 202 shares its subject with 201 in DS1);
``--ds2 published22`` adds 202 back, the literature-comparable variant only.

``--records-file F`` lists record ids, one per line (blank lines and ``#`` comments ignored), e.g. the
records of a CinC-style folder ``D/cinc2017/`` (``REFERENCE.csv`` + ``training2017/`` records) that a
CinC 2017 run should be tested on; records are read one at a time with progress, in bounded memory.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .data.errors import DataError
from .cli import add_data_dir_argument, run_command
from .settings import resolve_data_dir
from .data.mitdb import available_records
from .runs import RunConfig
from .training.end_to_end import evaluate_end_to_end
from .training.evaluation import DS2_VARIANTS, ds2_records, evaluate_run, read_records_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet_tf.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="run folder, or a pretrained model's name (beats, rhythm, mi: evaluated on "
                                        "--data-dir / $ECGNET_DATA, reports in ./<name>_evaluation unless --out)")
    add_data_dir_argument(parser)
    parser.add_argument("--records", default=None, help="comma-separated record ids to evaluate instead")
    parser.add_argument("--records-file", type=Path, default=None,
                        help="text file of record ids to evaluate instead, one per line (blank lines and # comments "
                             "ignored); unknown ids are an error")
    parser.add_argument("--partition", default="test", choices=("test", "val"))
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default: the run folder for its own test set; RUN/evaluations/<what> "
                             "for --records, --partition val or another --data-dir, so the run's metrics.json stays)")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--ds2", default=None, choices=DS2_VARIANTS,
                        help="MIT-BIH beat runs: evaluate on DS2 strict (21 records) or as published (22, with "
                             "record 202, whose subject is in DS1: literature comparison only)")
    parser.add_argument("--end-to-end", action="store_true",
                        help="MIT-BIH beat runs: find R peaks with the project's detector, classify every detected "
                             "beat and score beat by beat against the reference (EC57); writes OUT/metrics.json "
                             "(default OUT: RUN/evaluations/end-to-end[-<ds2>])")
    args = parser.parse_args(argv)

    def body() -> None:
        from .pretrained.registry import is_pretrained_folder, resolve_model

        args.run_dir = resolve_model(args.run_dir)
        data_dir = resolve_data_dir(args.data_dir) if args.data_dir else None
        if is_pretrained_folder(args.run_dir):  # never write into the package; its run.json names no data
            data_dir = resolve_data_dir(args.data_dir)
            args.out = args.out or Path(f"{args.run_dir.name}_evaluation")
        records = args.records.split(",") if args.records else None
        if args.records_file:
            if records:
                raise ValueError("give --records or --records-file, not both")
            records = read_records_file(args.records_file)
        if args.ds2:
            if records:
                raise ValueError("give --records / --records-file or --ds2, not both")
            records = ds2_records(args.ds2, available_records(data_dir or RunConfig.load(args.run_dir).data_dir))
        if args.end_to_end:
            name = "end-to-end" + (f"-{args.ds2}" if args.ds2 else "")
            out = args.out or args.run_dir / "evaluations" / name
            m = evaluate_end_to_end(args.run_dir, out, data_dir, records)
            gross = {k: m["end_to_end"][k] for k in ("S", "V", "matched", "missed", "extra")}
            print(json.dumps({"task": m["task"], "n_records": m["n_records"], "end_to_end": gross,
                              "out_dir": m["out_dir"]}, indent=2))
            return
        out = args.out
        if args.ds2 and out is None:
            out = args.run_dir / "evaluations" / f"ds2-{args.ds2}"
        m = evaluate_run(args.run_dir, data_dir, records, args.partition, out, args.cache_dir)
        keys = ("task", "partition", "n_records", "n", "accuracy", "macro", "challenge_f1", "out_dir")
        print(json.dumps({k: m[k] for k in keys if k in m}, indent=2))

    return run_command(body, (DataError, FileNotFoundError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
