"""What every command shares: the data-folder option and the ``error: ...`` / exit-code-2 wrapper.

Commands are thin shells: parse arguments, call one library function, print a summary. Errors the
user can fix (bad input, missing files, missing databases) end as one ``error:`` line and exit 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from .data.errors import DataError
from .settings import DATA_ENV, resolve_data_dir

#: errors a user can act on: reported as one line, exit status 2
USER_ERRORS: tuple[type[BaseException], ...] = (DataError, FileNotFoundError, ValueError)


def add_data_dir_argument(parser: argparse.ArgumentParser, help_extra: str = "") -> None:
    """The shared ``--data-dir`` option (resolve it with :func:`data_dir_of`)."""
    parser.add_argument("--data-dir", default=None,
                        help=f"folder holding mitdb/, ptbxl/, cinc2017/ (default: ${DATA_ENV}, then ./data){help_extra}")


def data_dir_of(args: argparse.Namespace) -> Path:
    """The data folder: ``--data-dir``, else ``$ECGNET_DATA``, else ``./data``."""
    return resolve_data_dir(getattr(args, "data_dir", None))


def run_command(body: Callable[[], int | None], errors: tuple[type[BaseException], ...] = USER_ERRORS) -> int:
    """Run a command's body; a user error becomes ``error: <first line>`` on stderr and exit status 2."""
    try:
        rc = body()
    except errors as exc:
        print(f"error: {str(exc).strip() or type(exc).__name__}", file=sys.stderr)
        return 2
    return 0 if rc is None else int(rc)
