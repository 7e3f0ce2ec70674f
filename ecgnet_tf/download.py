"""Download a PhysioNet database into the data folder (verified against its SHA256SUMS, resumable).

    python -m ecgnet_tf.download {mitdb,ptbxl,cinc2017} [--data-dir D] [--only-100hz] [--jobs N]

(also ``python -m data.download`` from a checkout). A thin shell over
:func:`ecgnet_tf.data.download.download_database`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .data.download import DATABASES, DEFAULT_JOBS, DownloadError, default_data_dir, download_database, one_line
from .settings import DATA_ENV as DATA_DIR_ENV


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m data.download",
        description="Download a PhysioNet ECG database, verified against its SHA256SUMS.txt. "
        "Rerun the same command to resume an interrupted download.",
    )
    parser.add_argument("database", choices=list(DATABASES), help="database to download")
    parser.add_argument(
        "--data-dir", type=Path, default=None,
        help=f"parent folder of the databases (default: ${DATA_DIR_ENV}, else ./data)",
    )
    parser.add_argument(
        "--base-url", default=None,
        help="mirror URL holding this database's files (default: its physionet.org/files/... URL)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the SHA-256 checks")
    parser.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS, help=f"parallel downloads (default {DEFAULT_JOBS})"
    )
    parser.add_argument(
        "--only-100hz", action="store_true", help="ptbxl only: skip the 500 Hz records (records500/)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns 0 on success, 2 on a download error."""
    args = _parse_args(argv)
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    try:
        path = download_database(
            args.database, data_dir, base_url=args.base_url, verify=not args.no_verify,
            jobs=args.jobs, only_100hz=args.only_100hz,
        )
    except DownloadError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    print(f"{args.database}: ready in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
