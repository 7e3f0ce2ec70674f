"""Summarise the databases present under the data location.

    python -m ecgnet_tf.datasets --data-dir D [--json] [--include-paced]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .data import cinc2017, mitdb, ptbxl
from .data.errors import DataError, MissingDatabaseError
from .cli import add_data_dir_argument, run_command
from .settings import resolve_data_dir


def summarise(data_dir: Path, include_paced: bool = False) -> dict:
    """Counts of records and labels per database; absent databases report zero and why."""
    out: dict = {}
    try:
        recs = mitdb.available_records(data_dir, include_paced=include_paced)
        out["mitdb"] = {"records": len(recs), "beats": mitdb.beat_counts(data_dir, recs)}
    except MissingDatabaseError as exc:
        out["mitdb"] = {"records": 0, "beats": {c: 0 for c in mitdb.AAMI_CLASSES}, "missing": str(exc)}
    try:
        entries = ptbxl.read_metadata(data_dir)
        out["ptbxl"] = {"records": len(entries), "labels": ptbxl.label_counts(entries)}
    except MissingDatabaseError as exc:
        out["ptbxl"] = {"records": 0, "labels": ptbxl.label_counts([]), "missing": str(exc)}
    try:
        labels = cinc2017.read_reference(data_dir)
        out["cinc2017"] = {"records": len(labels), "labels": cinc2017.label_counts(labels)}
    except MissingDatabaseError as exc:
        out["cinc2017"] = {"records": 0, "labels": cinc2017.label_counts({}), "missing": str(exc)}
    return out


def _table(summary: dict) -> str:
    lines = []
    for name, key in (("mitdb", "beats"), ("ptbxl", "labels"), ("cinc2017", "labels")):
        s = summary[name]
        counts = ", ".join(f"{k} {v:,}" for k, v in s[key].items())
        state = "missing" if "missing" in s else f"{s['records']} records"
        lines.append(f"{name:9s} {state:14s} {counts}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgnet_tf.datasets", description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--include-paced", action="store_true", help="count all 48 MIT-BIH records")
    args = parser.parse_args(argv)

    def body() -> None:
        summary = summarise(resolve_data_dir(args.data_dir), include_paced=args.include_paced)
        print(json.dumps(summary, indent=2) if args.json else _table(summary))

    return run_command(body, (DataError,))


if __name__ == "__main__":
    sys.exit(main())
