"""Shared fixtures: the real PhysioNet data when present, and tiny fake databases otherwise."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED_DATA = Path(os.environ.get("ECGNET_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data); tests using it skip when it is absent."""
    if not (SHARED_DATA / "mitdb" / "100.hea").is_file():
        pytest.skip(f"real PhysioNet data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fake_data(tmp_path_factory) -> Path:
    """A data folder with fake mitdb/, ptbxl/ and cinc2017/ written by the tests."""
    from fake_databases import write_all

    return write_all(tmp_path_factory.mktemp("fake_data"))
