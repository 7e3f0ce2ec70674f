"""Data layer: typed WFDB loaders for MIT-BIH, PTB-XL and CinC 2017, and leakage-proof splits."""
from .errors import DataError, MissingDatabaseError
from .records import EcgRecord, read_wfdb_signal, validate_records
from .splits import LeakageError, Split, audit_split

__all__ = [
    "DataError",
    "MissingDatabaseError",
    "EcgRecord",
    "read_wfdb_signal",
    "validate_records",
    "LeakageError",
    "Split",
    "audit_split",
]
