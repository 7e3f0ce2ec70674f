"""Errors raised by the data layer. Messages always name the file and the problem."""
from __future__ import annotations


class DataError(ValueError):
    """A record or database file is missing, truncated or implausible."""


class MissingDatabaseError(DataError):
    """The requested database is not under the data location."""

    def __init__(self, name: str, data_dir: str, missing: str):
        self.name = name
        self.data_dir = data_dir
        super().__init__(
            f"{name} not found: {missing} does not exist under {data_dir}. "
            f"Get it with `python -m data.download {name} --data-dir {data_dir}` "
            f"(or add --download to the train command), or point --data-dir / $ECGNET_DATA "
            f"at a folder that holds {name}/."
        )
