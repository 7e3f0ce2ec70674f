"""Paths the tests share: the repository root and the real data folder (../shared/data by default)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ECGNET_SHARED_DATA", REPO.parent / "shared" / "data"))
