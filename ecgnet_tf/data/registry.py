"""The supported databases in one table: name, sampling rate, leads, how to tell it is present, and
where its downloader lives. Each database module (``mitdb``, ``ptbxl``, ``cinc2017``) declares its own
:class:`Database`; adding a database means one loader module with a ``DATABASE`` and one download spec
in :mod:`ecgnet_tf.data.download`, plus its line here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import MissingDatabaseError


@dataclass(frozen=True)
class Database:
    """One PhysioNet database as the loaders see it.

    fs_hz: native sampling rate (Hz) of the files the loader reads by default. leads: lead names the
    tasks use. marker: glob, relative to the data folder, that matches once the database is present.
    """

    name: str
    title: str
    fs_hz: float
    leads: tuple[str, ...]
    marker: str

    def is_present(self, data_dir: Path) -> bool:
        return any(Path(data_dir).glob(self.marker))

    def require(self, data_dir: Path) -> None:
        """Raise :class:`MissingDatabaseError` (saying how to download it) unless present."""
        if not self.is_present(data_dir):
            raise MissingDatabaseError(self.name, str(data_dir), str(Path(data_dir) / self.marker))


def databases() -> dict[str, Database]:
    """Every supported database by name."""
    from . import cinc2017, mitdb, ptbxl

    return {db.name: db for db in (mitdb.DATABASE, ptbxl.DATABASE, cinc2017.DATABASE)}


def get_database(name: str) -> Database:
    dbs = databases()
    if name not in dbs:
        raise ValueError(f"unknown database {name!r}; choose one of {', '.join(dbs)}")
    return dbs[name]
