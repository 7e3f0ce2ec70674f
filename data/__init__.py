"""Download helpers for the PhysioNet databases (never the data itself)."""
