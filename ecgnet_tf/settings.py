"""Where the project finds its data: one setting, ``--data-dir`` > ``$ECGNET_DATA`` > ``./data``."""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "ECGNET_DATA"
DEFAULT_DATA_DIR = Path("data")


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the data location: the explicit argument, else ``$ECGNET_DATA``, else ``./data``."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA_DIR
